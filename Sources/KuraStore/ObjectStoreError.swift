/// The one error type every ``ObjectStore`` throws: a code to switch on, the object and store it concerns,
/// a message that says what happened, and (for local stores) the `errno` of the failed system call.
///
/// Modelled on swift-nio's `FileSystemError`: callers switch on ``code``; humans read ``description``.
/// Every store reports the same situation with the same code, so code written against ``MemoryStore``
/// behaves the same against ``LocalStore``.
public struct ObjectStoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case notFound, alreadyExists, permissionDenied, noSpace, readOnly, invalidKey, rangeNotSatisfiable, io,
                unavailable
        }
        fileprivate let value: Value

        /// The code's name, for example `notFound`.
        public var description: String { value.rawValue }

        /// The object (or the store's root) does not exist.
        public static let notFound = Code(value: .notFound)
        /// The key cannot be used because of what is already stored: an object is where a directory level of
        /// the key would be (`a` exists, writing `a/b`), or objects exist below the key (`a/b` exists, writing `a`).
        public static let alreadyExists = Code(value: .alreadyExists)
        /// The operating system or the service refused access (`EACCES`, `EPERM`, HTTP 403).
        public static let permissionDenied = Code(value: .permissionDenied)
        /// The storage is full or a quota is exhausted (`ENOSPC`, `EDQUOT`).
        public static let noSpace = Code(value: .noSpace)
        /// The storage is mounted or configured read-only (`EROFS`).
        public static let readOnly = Code(value: .readOnly)
        /// The key (or list prefix) breaks the key rules; see ``ObjectStore``.
        public static let invalidKey = Code(value: .invalidKey)
        /// A ranged read reaches past the end of the object (or starts before its beginning).
        public static let rangeNotSatisfiable = Code(value: .rangeNotSatisfiable)
        /// Reading or writing failed for another reason; ``ObjectStoreError/errno`` or
        /// ``ObjectStoreError/cause`` say which.
        public static let io = Code(value: .io)
        /// The store cannot be reached right now (network, service down); retrying later may succeed.
        public static let unavailable = Code(value: .unavailable)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The object the operation was about, if any (list prefixes are reported here too).
    public var key: String?
    /// Where the store is (its ``ObjectStore/location``), if known.
    public var location: String?
    /// What happened, in words; for system-call failures it ends with the `strerror` text and the errno number.
    public var message: String
    /// The underlying error, if the failure came from another layer (for example an HTTP client).
    public var cause: (any Error & Sendable)?
    /// The `errno` of the failed system call, for local stores.
    public var errno: Int32?

    /// Creates an error; `message` should say what happened without repeating the key or location.
    public init(_ code: Code, key: String? = nil, location: String? = nil, message: String, errno: Int32? = nil,
                cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.key = key
        self.location = location
        self.message = message
        self.errno = errno
        self.cause = cause
    }

    /// One line: the object and the store, then what happened, for example
    /// `object "data/ab/cd" in /srv/kura: cannot create temporary file: No space left on device (errno 28)`.
    public var description: String {
        var text: String
        switch (key, location) {
        case let (key?, location?): text = "object \(Self.quoted(key)) in \(location): "
        case let (key?, nil): text = "object \(Self.quoted(key)): "
        case let (nil, location?): text = "store \(location): "
        case (nil, nil): text = "object store: "
        }
        text += message
        if let cause { text += " (\(cause))" }
        return Self.singleLine(text)
    }

    /// The key in double quotes with control characters escaped, so a hostile key cannot break the line.
    static func quoted(_ key: String) -> String {
        var out = "\""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += scalar.escaped(asASCII: true)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func singleLine(_ text: String) -> String {
        guard text.contains(where: \.isNewline) else { return text }
        return String(text.map { $0.isNewline ? " " : $0 })
    }
}

import KuraCore

extension ObjectStoreError: KuraErrorConvertible {
    /// The store error as a ``KuraError``, with a hint that says what is safe and what to do.
    public var kuraError: KuraError {
        switch code {
        case .noSpace:
            return KuraError(.noSpace, description, hint: "free space or move the repository; snapshots saved before are intact", cause: self)
        case .permissionDenied:
            return KuraError(.permissionDenied, description, hint: permissionHint, cause: self)
        case .readOnly:
            return KuraError(.readOnly, description, hint: "read-only commands still work; write from a host that can write", cause: self)
        case .notFound:
            return KuraError(.notFound, description, cause: self)
        default:
            return KuraError(.io, description, cause: self)
        }
    }
}

extension ObjectStoreError {
    /// What to check when the storage refused: the folder's owner and mode, or — for an S3 repository —
    /// the key and the bucket's policy.
    public var permissionHint: String {
        if location?.hasPrefix("s3:") == true {
            return "S3 refused the request: check the access key (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or s3-credentials-file) and the bucket's or user's policy — kura needs s3:ListBucket, s3:GetObject, s3:PutObject, and s3:DeleteObject at least on locks/ (see docs/offsite.md)"
        }
        return "check the owner and mode of the repository folder (or run as the user that owns it)"
    }
}
