import Foundation
import KuraNotify
import KuraRepository
import KuraStore
import Logging

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
    /// The last n log lines logged after a mark (a source's own lines, for its failure report).
    public var logTail: @Sendable (Int, UInt64) -> [String] = { KuraLogging.recentLines($0, since: $1) }
    /// The current log position.
    public var logMark: @Sendable () -> UInt64 = { KuraLogging.mark }

    public init() {}
}

/// Builds what the configuration describes: the repository, the password, the channels.
public enum Resources {
    public static func repositoryLocation(_ config: Configuration, _ env: OperationsEnvironment) -> String {
        env.repositoryOverride ?? config.repository
    }

    public static func host(_ config: Configuration) -> String { config.host ?? Host.name }

    /// Where the password comes from: --password-file, then the configuration's `password-file` or
    /// `password`, then $KURA_PASSWORD_FILE, $KURA_PASSWORD (``PasswordSource``, the rule every command
    /// follows); no prompt, since `kura run` runs from cron.
    public static func passwordSource(_ config: Configuration, _ env: OperationsEnvironment) -> PasswordSource {
        let configured = config.password.map { PasswordSource.Configured.inline($0) } ?? config.passwordFile.map { .file($0) }
        var source = PasswordSource(passwordFile: env.passwordFileOverride, configured: configured, usesConfiguration: true,
                                    environment: env.variables)
        if !config.path.isEmpty { source.configurationPath = config.path }
        return source
    }

    /// The password, by the rule of ``passwordSource(_:_:)``.
    public static func password(_ config: Configuration, _ env: OperationsEnvironment) throws -> [UInt8] {
        try passwordSource(config, env).password()
    }

    /// The store at the configured repository location (``StoreFactory``), retries logged as warnings.
    public static func store(_ config: Configuration, _ env: OperationsEnvironment) throws -> any ObjectStore {
        let location = repositoryLocation(config, env)
        do {
            return try store(at: location, env, s3: config.s3)
        } catch var e as KuraError where e.code == .noRepository {
            e.hint = "create it with `kura init --repo \(location)` (same password as the configuration's)"
            throw e
        }
    }

    /// The store at any location the configuration names (the repository, an offsite target), opened by
    /// ``StoreFactory`` with the run's S3 endpoint and credentials; retries are logged as warnings.
    /// The configuration's `s3-*` settings come first, then the run's environment.
    public static func store(at location: String, _ env: OperationsEnvironment, s3 settings: S3Settings = S3Settings(),
                             objectLock: S3ObjectLock? = nil) throws -> any ObjectStore {
        let logger = Logger(label: "kura.store")
        var s3 = S3Options(endpoint: settings.endpoint ?? env.variables["KURA_S3_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 },
                           environment: env.variables, objectLock: objectLock)
        s3.region = settings.region
        s3.profile = settings.profile
        s3.credentialsFile = settings.credentialsFile
        let options = StoreOptions(onRetry: { retry in
            logger.warning("retrying a storage request", metadata: ["repository": .string(Redaction.location(location)), "retry": .string("\(retry)")])
        }, s3: s3)
        do { return try StoreFactory.open(location, options: options) } catch { throw KuraError.from(error) }
    }

    /// Opens an offsite target's repository with its own password file, else the repository's password.
    public static func openOffsite(_ target: OffsiteTarget, _ config: Configuration, _ env: OperationsEnvironment) async throws -> Repository {
        let store: any ObjectStore
        do {
            store = try self.store(at: target.repository, env, s3: config.s3, objectLock: target.objectLock)
            _ = try await Repository.readConfig(store: store)
        } catch var e as KuraError where e.code == .noRepository {
            e.message = "there is no kura repository at the offsite target \(target.name) (\(Redaction.location(target.repository)))"
            e.hint = "create it once with `kura init --repo \(target.repository) --copy-chunker-params-from \(repositoryLocation(config, env))`"
            throw e
        }
        let password = try target.passwordFile.map { try PasswordSource(passwordFile: $0, environment: [:]).password() } ?? self.password(config, env)
        do {
            return try await Repository.open(store: store, password: password, cacheDirectory: env.cacheDirectory,
                                             keyCache: passwordSource(config, env).allowsKeyCache)
        } catch var e as KuraError where e.code == .wrongPassword {
            e.message = "the password does not open the offsite target \(target.name)"
            e.hint = target.passwordFile == nil ? "give the target's password file with password-file in its [[offsite]]" : "check the password file \(target.passwordFile!)"
            throw e
        }
    }

    /// Opens the repository.
    public static func openRepository(_ config: Configuration, _ env: OperationsEnvironment) async throws -> Repository {
        let store = try store(config, env)
        _ = try await Repository.readConfig(store: store)
        let source = passwordSource(config, env)
        return try await Repository.open(store: store, password: try source.password(), cacheDirectory: env.cacheDirectory,
                                         keyCache: source.allowsKeyCache)
    }

    /// The notification channels of the configuration.
    public static func channels(_ config: Configuration, _ env: OperationsEnvironment) throws -> [any NotificationChannel] {
        if let o = env.channelsOverride { return o }
        return try config.notify.map { n -> any NotificationChannel in
            switch n.kind {
            case .smtp:
                var password = n.password
                if let f = n.passwordFile {
                    let bytes = try PasswordSource.readFile(f)
                    password = String(decoding: bytes, as: UTF8.self)
                }
                let security: SMTPChannel.Security = n.security == "tls" ? .tls : n.security == "none" ? .none : .starttls
                let port = n.port ?? (security == .tls ? 465 : security == .none ? 25 : 587)
                return SMTPChannel(name: n.name, when: n.on, host: n.host ?? "localhost", port: port, security: security,
                                   username: n.username, password: password, from: n.from ?? "kura@\(host(config))", to: n.to,
                                   timeoutSeconds: n.timeout(default: 30), caFile: n.caFile, insecureSkipVerify: n.insecureSkipVerify)
            case .sendmail:
                return SendmailChannel(name: n.name, when: n.on, command: n.command, from: n.from ?? "kura@\(host(config))", to: n.to,
                                       timeoutSeconds: n.timeout(default: 60))
            case .webhook:
                let format: WebhookChannel.Format = n.format == "slack" ? .slack : n.format == "ntfy" ? .ntfy : .json
                return WebhookChannel(name: n.name, when: n.on, url: n.url ?? "", format: format, headers: n.headers, timeoutSeconds: n.timeout(default: 15))
            case .healthchecks:
                return HealthchecksChannel(name: n.name, url: n.url ?? "", sources: n.sources, timeoutSeconds: n.timeout(default: 10))
            }
        }
    }
}
