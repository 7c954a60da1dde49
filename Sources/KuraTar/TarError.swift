/// An error from ``TarWriter`` or ``TarReader``: a machine-readable ``code`` and a message for people.
public struct TarError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, broadly.
    public enum Code: String, Sendable, Equatable {
        /// The writer was given an entry it cannot represent (empty path, NUL byte,
        /// size on a non-file, mode above `0o7777`, ...).
        case invalidEntry
        /// A call came in the wrong order (contents with no open entry, a header while an
        /// entry is open, anything after `finish()` or after the sink failed).
        case invalidState
        /// More content bytes were written than the entry's size.
        case contentsTooLong
        /// An entry was finished before all of its content bytes were written.
        case contentsTooShort
        /// A header block's checksum does not match its contents.
        case badChecksum
        /// A header or pax record could not be parsed.
        case malformedHeader
        /// The archive uses a feature this reader does not implement (sparse files,
        /// multi-volume archives, unknown entry types).
        case unsupported
        /// The archive ended inside an entry or without its end-of-archive marker.
        case truncated
    }

    /// What went wrong, broadly.
    public var code: Code
    /// Details for people, naming the entry or archive offset involved.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `tar <code>: <message>`.
    public var description: String { "tar \(code.rawValue): \(message)" }
}

import KuraCore

extension TarError: KuraErrorConvertible {
    public var kuraError: KuraError {
        switch code {
        case .badChecksum, .malformedHeader, .truncated: return KuraError(.corrupt, description, hint: "the archive is damaged or not a tar archive", cause: self)
        case .unsupported: return KuraError(.invalidArgument, description, cause: self)
        case .invalidEntry, .invalidState, .contentsTooLong, .contentsTooShort: return KuraError(.fatal, description, cause: self)
        }
    }
}
