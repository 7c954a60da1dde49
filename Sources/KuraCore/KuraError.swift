/// The one error type that crosses the library boundary: a code that maps to a documented exit code,
/// a message that says what happened, an optional hint that says what to do next, and the cause.
///
/// Modelled on swift-nio's `FileSystemError`: callers switch on ``code``; humans read ``description``.
/// Decisions are made on codes, never on message text. Lower layers keep their own precise error types
/// (`ObjectStoreError`, `FileSystemError`, …) and adopt ``KuraErrorConvertible`` so that every error
/// reaches the user through one printer with the same shape.
public struct KuraError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Each code has a fixed process exit code (see ``exitCode``).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable { case fatal, invalidArgument, notFound, noRepository, locked,
            wrongPassword, corrupt, unsupportedVersion, io, noSpace, permissionDenied, commandFailed, alreadyExists,
            readOnly, lockLost, interrupted, timedOut, usage }
        fileprivate let value: Value
        public var description: String { value.rawValue }
        /// A failure without a more specific code.
        public static let fatal = Code(value: .fatal)
        /// A command-line argument or option is wrong.
        public static let invalidArgument = Code(value: .invalidArgument)
        /// A snapshot, path or object does not exist.
        public static let notFound = Code(value: .notFound)
        /// There is no repository at the given location.
        public static let noRepository = Code(value: .noRepository)
        /// The repository is locked by another process.
        public static let locked = Code(value: .locked)
        /// No key in the repository opens with the given password.
        public static let wrongPassword = Code(value: .wrongPassword)
        /// Stored data failed verification (hash, authentication tag, structure).
        public static let corrupt = Code(value: .corrupt)
        /// The repository was written by a newer kura.
        public static let unsupportedVersion = Code(value: .unsupportedVersion)
        /// Reading or writing storage failed.
        public static let io = Code(value: .io)
        /// The storage is full.
        public static let noSpace = Code(value: .noSpace)
        /// The operating system refused access.
        public static let permissionDenied = Code(value: .permissionDenied)
        /// A command whose output was being backed up failed.
        public static let commandFailed = Code(value: .commandFailed)
        /// Something that must be new exists already (for example a repository at `init`).
        public static let alreadyExists = Code(value: .alreadyExists)
        /// The storage is read-only (mounted so, or a read-only copy).
        public static let readOnly = Code(value: .readOnly)
        /// This process's repository lock went stale (not refreshed in time: the process was stopped, the
        /// machine suspended or the storage unreachable) or was removed; nothing more may be committed.
        public static let lockLost = Code(value: .lockLost)
        /// The process was told to stop (SIGINT, SIGTERM, SIGHUP).
        public static let interrupted = Code(value: .interrupted)
        /// An option value is malformed (exit 64, like the argument parser's own usage errors).
        public static let usage = Code(value: .usage)
        /// An external command or service did not finish within its time limit.
        public static let timedOut = Code(value: .timedOut)
    }

    public var code: Code
    public var message: String
    /// What the user can do about it, if there is something specific to say.
    public var hint: String?
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, hint: String? = nil, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// The documented process exit code: 1 fatal, 10 no repository, 11 locked, 12 wrong password,
    /// 130 interrupted. (Exit code 3, "backup finished but some files could not be read", is not an
    /// error: see `BackupResult`; 64 is a usage error found by the argument parser.)
    public var exitCode: Int32 {
        switch code {
        case .noRepository: return 10
        case .locked: return 11
        case .wrongPassword: return 12
        case .usage: return 64
        case .interrupted: return 130
        default: return 1
        }
    }

    /// Any error as a `KuraError`: itself, a ``KuraErrorConvertible``'s conversion, or `.fatal` with
    /// the error's description.
    public static func from(_ error: any Error) -> KuraError {
        if let k = error as? KuraError { return k }
        if let c = error as? any KuraErrorConvertible { return c.kuraError }
        return KuraError(.fatal, String(describing: error))
    }

    public var description: String {
        var text = message
        if let cause { text += " (\(cause))" }
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }
}
