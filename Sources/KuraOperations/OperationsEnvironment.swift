import Foundation
import KuraNotify
import KuraRepository
import KuraStore

/// Everything a run takes from outside the configuration, injectable for tests.
public struct OperationsEnvironment: Sendable {
    public var clock: RunClock = .system
    /// The process environment (for $KURA_PASSWORD*, $KURA_STATE_DIR).
    public var variables: [String: String] = ProcessInfo.processInfo.environment
    /// `--repo` given on the command line (overrides the configuration).
    public var repositoryOverride: String?
    /// `--password-file` given on the command line.
    public var passwordFileOverride: String?
    /// The local index cache folder (nil: none).
    public var cacheDirectory: String?
    /// Notification channels to use instead of the configured ones (tests).
    public var channelsOverride: [any NotificationChannel]?
    /// The recent log lines for failure reports.
    public var logTail: @Sendable (Int) -> [String] = { KuraLogging.recentLines($0) }

    public init() {}
}

/// Builds what the configuration describes: the repository, the password, the channels.
public enum Resources {
    public static func repositoryLocation(_ config: Configuration, _ env: OperationsEnvironment) -> String {
        env.repositoryOverride ?? config.repository
    }

    public static func host(_ config: Configuration) -> String { config.host ?? Host.name }

    /// The password: the configuration's `password` or `password-file`, else --password-file,
    /// $KURA_PASSWORD_FILE, $KURA_PASSWORD.
    public static func password(_ config: Configuration, _ env: OperationsEnvironment) throws -> [UInt8] {
        if let file = env.passwordFileOverride { return try readPasswordFile(file) }
        if let pw = config.password { return Array(pw.utf8) }
        if let file = config.passwordFile { return try readPasswordFile(file) }
        if let file = env.variables["KURA_PASSWORD_FILE"], !file.isEmpty { return try readPasswordFile(file) }
        if let pw = env.variables["KURA_PASSWORD"], !pw.isEmpty { return Array(pw.utf8) }
        throw KuraError(.invalidArgument, "the configuration gives no repository password",
                        hint: "set password-file = \"/etc/kura/password\" (mode 0600) in the configuration")
    }

    static func readPasswordFile(_ file: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw KuraError(.invalidArgument, "cannot read the password file \(file)", hint: "check the path and its permissions (it should be mode 0600)")
        }
        let line = Array(data).split(separator: 10, maxSplits: 1, omittingEmptySubsequences: false).first.map(Array.init) ?? []
        let pw = line.last == 13 ? Array(line.dropLast()) : line
        guard !pw.isEmpty else { throw KuraError(.invalidArgument, "the password file \(file) is empty") }
        return pw
    }

    /// Opens the repository.
    public static func openRepository(_ config: Configuration, _ env: OperationsEnvironment) async throws -> Repository {
        let location = repositoryLocation(config, env)
        let store: any ObjectStore
        do { store = try LocalStore(path: location, create: false) } catch let e as ObjectStoreError where e.code == .notFound {
            throw KuraError(.noRepository, "there is no kura repository at \(location)",
                            hint: "create it with `kura init --repo \(location)` (same password as the configuration's)")
        } catch { throw KuraError(.io, "cannot open \(location): \(error)") }
        _ = try await Repository.readConfig(store: store)
        return try await Repository.open(store: store, password: try password(config, env), cacheDirectory: env.cacheDirectory)
    }

    /// The notification channels of the configuration.
    public static func channels(_ config: Configuration, _ env: OperationsEnvironment) throws -> [any NotificationChannel] {
        if let o = env.channelsOverride { return o }
        return try config.notify.map { n -> any NotificationChannel in
            switch n.kind {
            case .smtp:
                var password = n.password
                if let f = n.passwordFile {
                    let bytes = try readPasswordFile(f)
                    password = String(decoding: bytes, as: UTF8.self)
                }
                let security: SMTPChannel.Security = n.security == "tls" ? .tls : n.security == "none" ? .none : .starttls
                let port = n.port ?? (security == .tls ? 465 : security == .none ? 25 : 587)
                return SMTPChannel(name: n.name, when: n.on, host: n.host ?? "localhost", port: port, security: security,
                                   username: n.username, password: password, from: n.from ?? "kura@\(host(config))", to: n.to,
                                   timeoutSeconds: Int(n.timeoutSeconds.rounded(.up)), caFile: n.caFile, insecureSkipVerify: n.insecureSkipVerify)
            case .sendmail:
                return SendmailChannel(name: n.name, when: n.on, command: n.command, from: n.from ?? "kura@\(host(config))", to: n.to,
                                       timeoutSeconds: Int(n.timeoutSeconds.rounded(.up)))
            case .webhook:
                let format: WebhookChannel.Format = n.format == "slack" ? .slack : n.format == "ntfy" ? .ntfy : .json
                return WebhookChannel(name: n.name, when: n.on, url: n.url ?? "", format: format, headers: n.headers, timeoutSeconds: Int(n.timeoutSeconds.rounded(.up)))
            }
        }
    }
}
