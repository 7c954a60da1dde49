/// An error thrown by the KuraCrypto primitives.
///
/// `code` says what kind of failure it was; `message` says what was being done;
/// `libraryMessage` carries OpenSSL's own error-queue text when the failure came
/// from libcrypto.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Sendable, Hashable, CustomStringConvertible {
        /// A sealed message did not verify: wrong key, wrong associated data,
        /// a modified byte, or a truncated or too-short message.
        case authenticationFailed
        /// An argument was malformed (wrong key or nonce length, invalid scrypt parameters, ...).
        case invalidInput
        /// libcrypto reported an unexpected failure (out of memory, provider missing, ...).
        case libraryFailure

        /// The code's name, e.g. `authenticationFailed`.
        public var description: String {
            switch self {
            case .authenticationFailed: "authenticationFailed"
            case .invalidInput: "invalidInput"
            case .libraryFailure: "libraryFailure"
            }
        }
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable description of what failed.
    public let message: String
    /// OpenSSL's error string(s) for the failure, when libcrypto reported any.
    public let libraryMessage: String?

    /// Creates an error with the given code, message and optional OpenSSL error text.
    public init(_ code: Code, _ message: String, libraryMessage: String? = nil) {
        self.code = code
        self.message = message
        self.libraryMessage = libraryMessage
    }

    /// `code: message`, followed by OpenSSL's error text in parentheses when present.
    public var description: String {
        if let libraryMessage {
            return "\(code): \(message) (OpenSSL: \(libraryMessage))"
        }
        return "\(code): \(message)"
    }
}

import KuraCore

extension CryptoError: KuraErrorConvertible {
    public var kuraError: KuraError {
        switch code {
        case .authenticationFailed:
            return KuraError(.corrupt, "\(message): the data failed authentication (damaged, or not written with this key)", cause: self)
        case .invalidInput: return KuraError(.invalidArgument, message, cause: self)
        case .libraryFailure: return KuraError(.fatal, description, hint: "libcrypto (OpenSSL) failed; check the OpenSSL installation", cause: self)
        }
    }
}
