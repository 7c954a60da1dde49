/// An error thrown by the KuraCompression codecs.
public struct CompressionError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Sendable, Hashable, CustomStringConvertible {
        /// The compressed input is not a valid zstd frame or gzip stream.
        case corruptInput
        /// The input decompressed to a different size than expected.
        case sizeMismatch
        /// The compressed stream ended before its last member was complete.
        case truncatedInput
        /// An argument was out of range (e.g. a negative expected size).
        case invalidArgument
        /// The object was used after `finish()` or after an earlier failure.
        case invalidState
        /// The C library reported an unexpected failure (e.g. out of memory).
        case libraryFailure

        /// The code's name, e.g. `corruptInput`.
        public var description: String {
            switch self {
            case .corruptInput: "corruptInput"
            case .sizeMismatch: "sizeMismatch"
            case .truncatedInput: "truncatedInput"
            case .invalidArgument: "invalidArgument"
            case .invalidState: "invalidState"
            case .libraryFailure: "libraryFailure"
            }
        }
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable description, including the library's error text when there is one.
    public let message: String

    /// Creates an error with the given code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}

import KuraCore

extension CompressionError: KuraErrorConvertible {
    public var kuraError: KuraError {
        switch code {
        case .corruptInput, .sizeMismatch, .truncatedInput: return KuraError(.corrupt, message, cause: self)
        case .invalidArgument: return KuraError(.invalidArgument, message, cause: self)
        case .invalidState, .libraryFailure: return KuraError(.fatal, description, cause: self)
        }
    }
}
