import ArgumentParser
import Foundation
import KuraNotify
import KuraOperations
import KuraRepository
import Logging

/// `--config`, shared by the commands that read the operations configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The configuration file (default: $KURA_CONFIG, else /etc/kura/kura.toml).", valueName: "file"))
    var config: String?

    var path: String { ConfigurationParser.defaultPath(explicit: config) }

    /// Reads and checks the configuration; problems become one error listing all of them with line:column.
    func load() throws -> Configuration {
        do { return try ConfigurationParser.load(path: path) } catch let e as ConfigurationError {
            throw KuraError(.invalidArgument, e.description, hint: "`kura config check --config \(path)` checks the whole configuration")
        }
    }

    /// The run environment from the configuration and the global options.
    func environment(_ config: Configuration, _ global: GlobalOptions) -> OperationsEnvironment {
        var env = OperationsEnvironment()
        env.repositoryOverride = global.repo
        env.passwordFileOverride = global.passwordFile
        env.cacheDirectory = global.noCache ? nil : (config.cacheDirectory ?? global.cacheDirectory)
        return env
    }

    /// Sends swift-log output to stderr and the configured log file.
    static func bootstrapLogging(_ config: Configuration, format: String? = nil, quiet: Bool = false) {
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        let f: KuraLogging.Format = (format ?? config.logFormat.rawValue) == "json" ? .json : .text
        // --quiet (cron): log to the file only; failures are still printed on stderr by the command.
        KuraLogging.bootstrap(level: level, format: f, logFile: config.logFile, maxBytes: config.logMaxBytes, keep: config.logKeep,
                              standardError: !quiet)
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check or show the operations configuration (kura.toml).",
        subcommands: [ConfigCheck.self, ConfigShow.self])
}

struct ConfigCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration and everything it names.",
        discussion: """
        Reports syntax and value errors with line:column; then checks that every source resolves (paths exist, Docker volumes resolve, PostgreSQL DSNs connect), opens the repository with the configured password, sends a test message through every notification channel (--no-notify to skip), and refuses a configuration that holds secrets inline while others can read it (fix: chmod 600).
          kura config check
          kura config check --config ./kura.toml --no-notify
        Exit code 0 when there is no error (warnings allowed), 1 otherwise.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions
    @Flag(name: .long, help: "Do not send test messages.") var noNotify = false
    @Flag(name: .long, help: "Do not open the repository.") var noRepository = false

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let path = options.path
            let config: Configuration
            do { config = try ConfigurationParser.load(path: path) } catch let e as ConfigurationError {
                if global.json {
                    struct Out: Encodable { var file: String; var ok: Bool; var issues: [ConfigurationError.Issue] }
                    try Terminal.json(Out(file: path, ok: false, issues: e.issues))
                } else {
                    Terminal.printError(e.description)
                    Terminal.printError("kura: \(e.issues.count) problem\(e.issues.count == 1 ? "" : "s") in \(path)")
                }
                return 1
            }
            // The findings below say everything once; log lines (a failed test message) go to the log file only.
            ConfigOptions.bootstrapLogging(config, quiet: true)
            var checker = ConfigChecker(config: config, environment: options.environment(config, global))
            checker.testNotifications = !noNotify
            checker.testRepository = !noRepository
            let findings = await checker.run()
            let errors = findings.filter { $0.level == .error }.count
            if global.json {
                struct Out: Encodable { var file: String; var ok: Bool; var findings: [ConfigChecker.Finding] }
                try Terminal.json(Out(file: config.path, ok: errors == 0, findings: findings))
            } else {
                for f in findings where !(global.quiet && f.level == .ok) {
                    let mark = f.level == .ok ? "ok     " : f.level == .warning ? "warning" : "ERROR  "
                    let at = f.line.map { "\(config.path):\($0):\(f.column ?? 1): " } ?? ""
                    print("\(mark) \(f.subject): \(at)\(f.message)")
                    if let h = f.hint, f.level != .ok { print("        hint: \(h)") }
                }
                if !global.quiet || errors > 0 {
                    print(errors == 0 ? "configuration OK" : "\(errors) error\(errors == 1 ? "" : "s") found")
                }
            }
            return errors == 0 ? 0 : 1
        }
    }
}

struct ConfigShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the configuration as kura reads it (defaults filled in, secrets hidden).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let c = try options.load()
            let view = ConfigView(c)
            if global.json { try Terminal.json(view); return 0 }
            print("config      \(c.path)")
            print("repository  \(c.repository)")
            print("password    \(view.password)")
            print("host        \(view.host)")
            print("timezone    \(view.timezone)")
            print("state-dir   \(view.stateDir)")
            print("log         \(c.logFile ?? "(stderr only)") format \(c.logFormat.rawValue) level \(c.logLevel)")
            print("gc          \(c.gc.every.rawValue), max unused \(Int(c.gc.maxUnused * 100))%")
            for s in view.sources {
                print("source \(s.name) (\(s.type))")
                for (k, v) in s.settings.sorted(by: { $0.key < $1.key }) { print("  \(k.padding(toLength: 16, withPad: " ", startingAt: 0)) \(v)") }
                print("  schedule         \(s.schedule.isEmpty ? "(none)" : s.schedule.joined(separator: " | "))")
                print("  next run         \(s.nextRun ?? "-")")
                print("  keep             \(s.keep ?? "(everything)")")
                if !s.fullEvery.isEmpty { print("  full every       \(s.fullEvery.joined(separator: ","))") }
                print("  check            \(s.check)")
            }
            for n in view.notify { print("notify \(n.name) (\(n.type)) on \(n.on): \(n.target)") }
            return 0
        }
    }
}

/// The configuration with defaults resolved and secrets replaced by "(hidden)".
struct ConfigView: Encodable {
    struct SourceView: Encodable {
        var name: String; var type: String; var settings: [String: String]; var schedule: [String]; var nextRun: String?
        var keep: String?; var fullEvery: [String]; var check: String; var tag: String
    }
    struct NotifyView: Encodable { var name: String; var type: String; var on: String; var target: String }
    var config: String; var repository: String; var password: String; var host: String; var timezone: String; var stateDir: String
    var sources: [SourceView]; var notify: [NotifyView]

    init(_ c: Configuration) {
        config = c.path; repository = c.repository
        password = c.password != nil ? "(inline, hidden)" : c.passwordFile.map { "from \($0)" } ?? "from $KURA_PASSWORD_FILE / $KURA_PASSWORD"
        host = Resources.host(c); timezone = c.timeZone.identifier
        stateDir = StateStore.directory(for: c)
        let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        sources = c.sources.map { s in
            var settings: [String: String] = [:]
            switch s.kind {
            case .directory:
                settings["paths"] = s.paths.joined(separator: ", ")
                if !s.exclude.isEmpty { settings["exclude"] = s.exclude.joined(separator: ", ") }
                if s.oneFileSystem { settings["one-file-system"] = "true" }
            case .dockerVolume:
                settings["volumes"] = s.volumes.joined(separator: ", ")
                if !s.stopContainers.isEmpty { settings["stop-containers"] = s.stopContainers == ["*"] ? "all using the volumes" : s.stopContainers.joined(separator: ", ") }
                if s.pause { settings["pause"] = "true" }
            case .postgres:
                if let pg = s.postgres {
                    settings["dsn"] = ConfigView.redact(pg.dsn)
                    settings["databases"] = pg.databases.isEmpty ? "(all)" : pg.databases.joined(separator: ", ")
                    settings["format"] = pg.format
                    settings["row-counts"] = "\(pg.rowCounts)"
                    settings["physical"] = "\(pg.physical)"
                }
            case .command:
                settings["command"] = s.command.joined(separator: " ")
                settings["filename"] = s.filename ?? "\(s.name).out"
            }
            if let b = s.before { settings["before"] = "\(b.command) (timeout \(Int(b.timeoutSeconds)) s)" }
            if let a = s.after { settings["after"] = "\(a.command) (timeout \(Int(a.timeoutSeconds)) s)" }
            if !s.tags.isEmpty { settings["tags"] = s.tags.joined(separator: ", ") }
            let next = Schedule(s.schedule, timeZone: c.timeZone).next(after: Date()).map { ConfigChecker.format($0, c.timeZone) }
            var check = s.check.enabled ? "structure" : "none"
            if let sub = s.check.readDataSubset { check += " + read data \(sub)" }
            if s.check.verifyRestore != .never { check += "; verify restore \(s.check.verifyRestore.rawValue)" }
            return SourceView(name: s.name, type: s.kind.rawValue, settings: settings, schedule: s.scheduleText, nextRun: next,
                              keep: s.keep.map { "\($0)" }, fullEvery: s.fullEvery.sorted().map { days[$0] }, check: check, tag: s.tag)
        }
        notify = c.notify.map { n in
            let target: String
            switch n.kind {
            case .smtp: target = "\(n.host ?? "?"):\(n.port.map(String.init) ?? "default") \(n.security) → \(n.to.joined(separator: ", "))"
            case .sendmail: target = "\(n.command.joined(separator: " ")) → \(n.to.joined(separator: ", "))"
            case .webhook: target = "\(ConfigView.redact(n.url ?? "")) (\(n.format)\(n.headers.isEmpty ? "" : ", headers hidden"))"
            case .healthchecks: target = "\(Redaction.endpoint(n.url ?? "")) (ping URL hidden)" + (n.sources.isEmpty ? "" : " for \(n.sources.joined(separator: ", "))")
            }
            return NotifyView(name: n.name, type: n.kind.rawValue, on: n.on.rawValue, target: target)
        }
    }

    static func redact(_ s: String) -> String {
        if var c = URLComponents(string: s), c.password != nil { c.password = "hidden"; return c.string ?? s }
        return s.replacingOccurrences(of: #"password\s*=\s*('[^']*'|\S+)"#, with: "password=hidden", options: .regularExpression)
    }
}
