import Foundation
import KuraNotify
import KuraPostgres
import KuraRepository

/// `kura config check`: everything that can be verified before the first scheduled run.
public struct ConfigChecker: Sendable {
    public struct Finding: Sendable, Codable, Equatable {
        public enum Level: String, Sendable, Codable { case ok, warning, error }
        /// "file", "permissions", "repository", "source <name>", "notify <name>", "schedule".
        public var subject: String
        public var level: Level
        public var message: String
        public var hint: String?
        public var line: Int?
        public var column: Int?
    }

    public let config: Configuration
    public let environment: OperationsEnvironment
    public var testNotifications = true
    public var testRepository = true

    public init(config: Configuration, environment: OperationsEnvironment) {
        self.config = config
        self.environment = environment
    }

    /// The permission problem of a configuration holding secrets inline, if any.
    public static func permissionFinding(_ config: Configuration) -> Finding? {
        let secrets = config.secretKeys
        guard !secrets.isEmpty, !config.path.isEmpty else { return nil }
        var st = stat()
        guard stat(config.path, &st) == 0 else { return nil }
        let mode = UInt32(st.st_mode) & 0o777
        guard mode & 0o077 != 0 else { return nil }
        let pos = config.locations.position(of: secrets[0], preferValue: false)
        return Finding(subject: "permissions", level: .error,
                       message: "\(config.path) holds secrets (\(secrets.joined(separator: ", "))) but is readable by \(mode & 0o007 != 0 ? "every user" : "its group") (mode \(String(mode, radix: 8)))",
                       hint: "chmod 600 \(config.path) (and chown root:root), or move the secrets into password-file / a mode 0600 file",
                       line: pos?.line, column: pos?.column)
    }

    /// What to look at when a channel's test message failed, by kind.
    static func channelHint(_ kind: NotifyConfig.Kind) -> String {
        switch kind {
        case .smtp: return "check host, port, security and credentials"
        case .sendmail: return "check the command (run it by hand: echo test | COMMAND) and the mail system it hands over to"
        case .webhook: return "check the URL and headers, and that the service answers within the channel's timeout"
        case .healthchecks: return "check the ping URL (the check's UUID or ping key) and that this host reaches the service"
        }
    }

    public func run() async -> [Finding] {
        var out: [Finding] = [Finding(subject: "file", level: .ok, message: "\(config.path): \(config.sources.count) sources, \(config.notify.count) notify channels; schedules in \(config.timeZone.identifier)")]
        if let p = ConfigChecker.permissionFinding(config) { out.append(p) }
        if let f = config.passwordFile { out += fileSecretFinding(f, what: "password-file") }
        for n in config.notify { if let f = n.passwordFile { out += fileSecretFinding(f, what: "notify \(n.name) password-file") } }

        // Sources.
        let docker = DockerClient(settings: config.docker)
        for s in config.sources {
            let subject = "source \(s.name)"
            let pos = config.locations.position(of: "source[\(config.sources.firstIndex { $0.name == s.name } ?? 0)]", preferValue: false)
            func add(_ level: Finding.Level, _ message: String, hint: String? = nil) {
                out.append(Finding(subject: subject, level: level, message: message, hint: hint, line: pos?.line, column: pos?.column))
            }
            if s.schedule.isEmpty { add(.warning, "no schedule: it runs only when named (kura run \(s.name))", hint: "add schedule = \"0 17 * * *\"") }
            else if let next = Schedule(s.schedule, timeZone: config.timeZone).next(after: environment.clock.now()) {
                add(.ok, "next run \(ConfigChecker.format(next, config.timeZone))")
            }
            if s.keep == nil { add(.warning, "no keep policy: its snapshots are never removed", hint: "add keep = { daily = 7 }") }
            switch s.kind {
            case .directory:
                for p in s.paths {
                    var isDir: ObjCBool = false
                    if FileManager.default.fileExists(atPath: p, isDirectory: &isDir) { add(.ok, "\(p) exists") }
                    else { add(.error, "\(p) does not exist", hint: "fix paths, or create it") }
                }
            case .dockerVolume:
                for v in s.volumes {
                    do {
                        let r = try await offPool { try docker.resolve(volume: v) }
                        add(r.warning == nil ? .ok : .warning, "volume \(v) is \(r.path) (\(r.via == "api" ? "Docker API" : "no API: folder under \(config.docker.root)"))", hint: r.warning)
                    } catch let e as KuraError { add(.error, e.message, hint: e.hint) } catch { add(.error, "\(error)") }
                }
                if (s.pause || !s.stopContainers.isEmpty) {
                    if docker.apiAvailable {
                        do {
                            let volumes = s.volumes
                            let cs = try await offPool { try docker.containers(using: volumes) }
                            add(.ok, "would \(s.pause ? "pause" : "stop") \(cs.isEmpty ? "no running containers" : cs.map(\.name).joined(separator: ", "))")
                        } catch { add(.error, "cannot list containers: \(error)") }
                    } else { add(.error, "\(s.pause ? "pause" : "stop-containers") needs the Docker API, and \(config.docker.socket) is not there", hint: "start Docker or set [docker] socket") }
                }
            case .postgres:
                if let pg = s.postgres {
                    do {
                        let dsn = try PostgresDSN(pg.dsn)
                        try await offPool { try PostgresConnection.check(dsn, timeoutSeconds: 5) }
                        add(.ok, "connected to \(dsn.display)")
                    } catch let e as KuraError { add(.error, e.message, hint: e.hint) } catch { add(.error, "\(error)") }
                    if pg.walArchive, let dsn = try? PostgresDSN(pg.dsn) {
                        let path = config.path.isEmpty ? "/etc/kura/kura.toml" : config.path
                        do {
                            for f in try await offPool({ try ArchiveSettings.check(dsn, configPath: path) }) { add(f.ok ? .ok : .error, f.message, hint: f.hint) }
                        } catch let e as KuraError { add(.error, "cannot read the archiving settings: \(e.message)", hint: e.hint) } catch { add(.error, "\(error)") }
                    }
                    for tool in ["pg_dump"] + (pg.physical || pg.physicalSchedule != nil ? ["pg_basebackup"] : []) where ConfigChecker.which(tool) == nil {
                        add(.error, "\(tool) is not installed", hint: "apt-get install postgresql-client")
                    }
                }
            case .command:
                if let first = s.command.first, first != "/bin/sh", ConfigChecker.which(first) == nil {
                    add(.error, "\(first) is not found", hint: "give the full path, or install it")
                } else { add(.ok, "command \(s.command.joined(separator: " ").prefix(80))") }
            }
        }

        // Repository and password.
        if testRepository {
            do {
                let repo = try await Resources.openRepository(config, environment)
                out.append(Finding(subject: "repository", level: .ok, message: "opened \(repo.store.location) with the configured password"))
            } catch let e as KuraError {
                let pos = config.locations.position(of: e.code == .wrongPassword ? (config.password != nil ? "password" : "password-file") : "repository")
                out.append(Finding(subject: "repository", level: .error, message: e.message, hint: e.hint, line: pos?.line, column: pos?.column))
            } catch { out.append(Finding(subject: "repository", level: .error, message: "\(error)")) }
            // Offsite targets: each must exist and open with its password (the nightly copy needs both).
            for (i, target) in config.offsite.enumerated() {
                let pos = config.locations.position(of: "offsite[\(i)]", preferValue: false)
                do {
                    let repo = try await Resources.openOffsite(target, config, environment)
                    out.append(Finding(subject: "offsite \(target.name)", level: .ok, message: "opened \(repo.store.location)"))
                } catch {
                    let e = KuraError.from(error)
                    out.append(Finding(subject: "offsite \(target.name)", level: .error, message: e.message, hint: e.hint, line: pos?.line, column: pos?.column))
                }
            }
        }

        // State folder.
        let stateDir = StateStore.directory(for: config, environment: environment.variables)
        if FileManager.default.isWritableFile(atPath: stateDir) || (!FileManager.default.fileExists(atPath: stateDir) && FileManager.default.isWritableFile(atPath: (stateDir as NSString).deletingLastPathComponent)) {
            out.append(Finding(subject: "state", level: .ok, message: "state and run lock in \(stateDir)"))
        } else {
            out.append(Finding(subject: "state", level: .error, message: "the state folder \(stateDir) is not writable", hint: "set state-dir, or run as root"))
        }

        // Metrics textfile: its folder must exist and be writable (node_exporter's collector folder).
        if let m = config.metricsTextfile {
            let folder = (m as NSString).deletingLastPathComponent
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue, FileManager.default.isWritableFile(atPath: folder) {
                out.append(Finding(subject: "metrics-textfile", level: .ok, message: "kura run writes its metrics to \(m)"))
            } else {
                out.append(Finding(subject: "metrics-textfile", level: .error, message: "\(folder) is not a writable folder: kura run could not write \(m)",
                                   hint: "point metrics-textfile into node_exporter's --collector.textfile.directory, or create that folder"))
            }
        }

        // Notification channels.
        if config.notify.isEmpty {
            out.append(Finding(subject: "notify", level: .warning, message: "no [[notify]] channel: failures reach nobody", hint: "add an smtp, sendmail or webhook channel"))
        } else if testNotifications {
            do {
                let channels = try Resources.channels(config, environment)
                for r in await Notifier(channels: channels).test(host: Resources.host(config)) {
                    let index = config.notify.firstIndex { $0.name == r.channel }
                    let pos = index.flatMap { config.locations.position(of: "notify[\($0)]", preferValue: false) }
                    out.append(Finding(subject: "notify \(r.channel)", level: r.error == nil ? .ok : .error,
                                       message: r.error.map { "test message failed: \($0)" } ?? "test message sent",
                                       hint: r.error == nil ? nil : index.map { ConfigChecker.channelHint(config.notify[$0].kind) }, line: pos?.line, column: pos?.column))
                }
            } catch let e as KuraError { out.append(Finding(subject: "notify", level: .error, message: e.message, hint: e.hint)) }
            catch { out.append(Finding(subject: "notify", level: .error, message: "\(error)")) }
        }
        return out
    }

    func fileSecretFinding(_ path: String, what: String) -> [Finding] {
        var st = stat()
        guard stat(path, &st) == 0 else {
            return [Finding(subject: what, level: .error, message: "\(path) does not exist", hint: "write the secret into it (first line) and chmod 600 it")]
        }
        // The same rule `kura run` applies when it reads the file (PasswordSource).
        if let problem = PasswordSource.permissionProblem(path) {
            return [Finding(subject: what, level: .error, message: problem.message, hint: problem.hint)]
        }
        return []
    }

    static func which(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    public static func format(_ date: Date, _ zone: TimeZone) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm:ss zzz (EEE)"
        return f.string(from: date)
    }
}
