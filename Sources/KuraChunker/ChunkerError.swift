/// An error raised by KuraChunker, currently only by ``ChunkerParameters/validate()``.
///
/// The ``message`` names the offending value and the rule it breaks, so it can be shown to a user
/// as it is (for example when a repository configuration carries bad chunker parameters).
public struct ChunkerError: Error, CustomStringConvertible, Sendable, Hashable {
    /// A human-readable explanation of what is wrong.
    public let message: String

    /// Creates an error with the given explanation.
    /// - Parameter message: A human-readable explanation of what is wrong.
    public init(_ message: String) {
        self.message = message
    }

    /// The explanation, prefixed with the module's name.
    public var description: String {
        "KuraChunker: \(message)"
    }
}

import KuraCore

extension ChunkerError: KuraErrorConvertible {
    public var kuraError: KuraError { KuraError(.invalidArgument, message, cause: self) }
}
