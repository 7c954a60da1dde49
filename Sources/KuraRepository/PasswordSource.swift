#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the repository password comes from: the one rule every command, `kura run`, `config check` and
/// `status` follow. The first of these that is given wins:
///
/// 1. `--password-file FILE` on the command line;
/// 2. the configuration file's `password-file` or inline `password` (only when a configuration is used);
/// 3. `$KURA_PASSWORD_FILE`;
/// 4. `$KURA_PASSWORD`;
/// 5. a prompt on the terminal, if the caller supplies one (interactive commands; never `kura run`).
///
/// The password is never taken from an argument (it would show in `ps`). A password file gives its first
/// line (without `\n` or `\r\n`); it must not be empty, and a regular file must not be readable by its
/// group or others (`mode & 0o077 == 0`, as `kura config check` demands): such a file is refused with
/// "chmod 600". An inline password in a configuration file (``configurationPath``) is refused the same way
/// while that file is readable by group or others. Empty environment variables count as unset.
public struct PasswordSource: Sendable {
    /// A password setting of the configuration file.
    public enum Configured: Sendable, Equatable {
        /// `password-file = "…"`.
        case file(String)
        /// `password = "…"` (the configuration file itself must then be 0600; `config check` says so).
        case inline(String)
    }

    /// Which of the sources gave (or would give) the password.
    public enum Origin: Sendable, Equatable, CustomStringConvertible {
        case passwordFileOption(String)
        case configurationFile(String)
        case configurationInline
        case environmentFile(String)
        case environmentValue
        case prompt

        public var description: String {
            switch self {
            case .passwordFileOption(let f): return "--password-file \(f)"
            case .configurationFile(let f): return "the configuration's password-file \(f)"
            case .configurationInline: return "the configuration's password"
            case .environmentFile(let f): return "$KURA_PASSWORD_FILE (\(f))"
            case .environmentValue: return "$KURA_PASSWORD"
            case .prompt: return "the terminal"
            }
        }
    }

    /// `--password-file`, if given.
    public var passwordFile: String?
    /// The configuration's setting, if a configuration is used and it has one.
    public var configured: Configured?
    /// Whether a configuration file is in use (for the message when no password is given).
    public var usesConfiguration: Bool
    /// The process environment (`KURA_PASSWORD_FILE`, `KURA_PASSWORD`).
    public var environment: [String: String]
    /// Asks on the terminal; nil where nobody can answer (cron, standard input not a terminal).
    public var prompt: (@Sendable () throws -> [UInt8])?
    /// The configuration file that holds ``configured``: an inline password is refused while its group
    /// or others can read that file — the rule `config check` applies, and the one for password files.
    public var configurationPath: String?

    public init(passwordFile: String? = nil, configured: Configured? = nil, usesConfiguration: Bool = false,
                environment: [String: String], prompt: (@Sendable () throws -> [UInt8])? = nil) {
        self.passwordFile = passwordFile
        self.configured = configured
        self.usesConfiguration = usesConfiguration || configured != nil
        self.environment = environment
        self.prompt = prompt
    }

    /// Whether a repository opened with this password may use the local key cache (`KeyCache`): for
    /// a password from a file or the environment, not for one typed at a prompt, and not when
    /// `KURA_KEY_CACHE=0`.
    public var allowsKeyCache: Bool {
        guard let origin, origin != .prompt else { return false }
        return environment["KURA_KEY_CACHE"] != "0"
    }

    /// Which source the rule picks, without reading anything; nil if none is given.
    public var origin: Origin? {
        if let passwordFile { return .passwordFileOption(passwordFile) }
        switch configured {
        case .file(let f): return .configurationFile(f)
        case .inline: return .configurationInline
        case nil: break
        }
        if let f = environment["KURA_PASSWORD_FILE"], !f.isEmpty { return .environmentFile(f) }
        if let pw = environment["KURA_PASSWORD"], !pw.isEmpty { return .environmentValue }
        if prompt != nil { return .prompt }
        return nil
    }

    /// The password, from the first source the rule picks.
    public func password() throws -> [UInt8] {
        guard let origin else {
            if usesConfiguration {
                throw KuraError(.invalidArgument, "the configuration gives no repository password",
                                hint: "set password-file = \"/etc/kura/password\" (mode 0600) in the configuration, or KURA_PASSWORD_FILE")
            }
            throw KuraError(.invalidArgument, "no password given",
                            hint: "use --password-file FILE, or set KURA_PASSWORD_FILE or KURA_PASSWORD (the password is never taken from the command line)")
        }
        let pw: [UInt8]
        switch origin {
        case .passwordFileOption(let f), .configurationFile(let f), .environmentFile(let f):
            return try Self.readFile(f)
        case .configurationInline:
            guard case .inline(let value) = configured else { preconditionFailure() }
            if let path = configurationPath, let problem = Self.inlineProblem(path) { throw problem }
            pw = Array(value.utf8)
        case .environmentValue:
            pw = Array((environment["KURA_PASSWORD"] ?? "").utf8)
        case .prompt:
            pw = try prompt!()
        }
        guard !pw.isEmpty else { throw KuraError(.invalidArgument, "the password is empty") }
        return pw
    }

    /// The first line of `path` (without `\n` or `\r\n`), refusing an empty one and a regular file that
    /// its group or others can read. For every secret kept in a file (notification passwords too).
    public static func readFile(_ path: String) throws -> [UInt8] { try readSecretFile(path, what: "password file") }

    /// The first line of a secret file (`what`: "password file", "token file"), under the same rules as a
    /// password file: not empty, and refused while its group or others may read it (`chmod 600`).
    public static func readSecretFile(_ path: String, what: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw KuraError(.invalidArgument, "cannot read the \(what) \(path): \(String(cString: strerror(e)))",
                            hint: "check the path and its permissions (it should be mode 0600)")
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, let problem = permissionProblem(path, mode: st.st_mode, what: what) { throw problem }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while data.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw KuraError(.invalidArgument, "cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            data += buffer[0..<n]
            if buffer[0..<n].contains(10) { break }
        }
        let line = data.split(separator: 10, maxSplits: 1, omittingEmptySubsequences: false).first.map(Array.init) ?? []
        let pw = line.last == 13 ? Array(line.dropLast()) : line
        guard !pw.isEmpty else { throw KuraError(.invalidArgument, "the \(what) \(path) is empty") }
        return pw
    }

    /// The refusal for a secret file that its group or others can read, or nil if `path` is fine (or
    /// cannot be examined: reading it then says why). Only regular files: a pipe (`<(…)`) has no such mode.
    public static func permissionProblem(_ path: String) -> KuraError? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return permissionProblem(path, mode: st.st_mode, what: "password file")
    }

    /// The refusal for a configuration file holding the password inline while its group or others can
    /// read it (regular files only), or nil.
    static func inlineProblem(_ path: String) -> KuraError? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        let permissions = UInt32(st.st_mode) & 0o777
        guard permissions & 0o077 != 0 else { return nil }
        return KuraError(.invalidArgument,
                         "the configuration file \(path) holds the password inline but is readable by \(permissions & 0o007 != 0 ? "every user" : "its group") (mode \(String(permissions, radix: 8)))",
                         hint: "chmod 600 \(path), or move the password into a password-file of mode 0600; nothing was read or written")
    }

    private static func permissionProblem(_ path: String, mode: mode_t, what: String) -> KuraError? {
        guard mode & S_IFMT == S_IFREG else { return nil }
        let permissions = UInt32(mode) & 0o777
        guard permissions & 0o077 != 0 else { return nil }
        return KuraError(.invalidArgument,
                         "the \(what) \(path) is readable by \(permissions & 0o007 != 0 ? "every user" : "its group") (mode \(String(permissions, radix: 8)))",
                         hint: "chmod 600 \(path); nothing was read or written")
    }
}
