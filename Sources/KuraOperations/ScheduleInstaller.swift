import Foundation
import KuraRepository

/// Writes what makes cron or systemd drive `kura run --due`.
///
/// Both install **one** trigger that fires every minute and runs `kura run --due`; kura itself decides
/// which sources are due from their cron expressions, in the configuration's time zone, with the DST
/// rules of ``Schedule``. So the schedule lives in one place (the configuration), a changed schedule
/// needs no re-install, missed runs (machine off, a long run holding the lock) are caught up once, and
/// overlapping triggers never double up (the run lock; systemd also never starts a running service twice).
public struct ScheduleInstaller: Sendable {
    public enum Kind: String, Sendable, Codable { case cron, systemd }

    public struct File: Sendable, Codable, Equatable {
        public var path: String
        public var contents: String
    }

    public let config: Configuration
    /// The kura binary to run.
    public let executable: String
    /// The user cron runs it as (cron.d lines name one).
    public var user = "root"

    public init(config: Configuration, executable: String) {
        self.config = config
        self.executable = executable
    }

    /// The kura binary of this process (resolved through /proc/self/exe).
    public static var currentExecutable: String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return CommandLine.arguments.first ?? "/usr/local/bin/kura"
    }

    /// Refuses a binary inside a SwiftPM build folder (a path with `/.build/`): `swift package clean` or
    /// the next build removes or replaces it, and every scheduled run would then fail. `allowBuildFolder`
    /// is the explicit override (`--allow-build-binary`).
    public static func checkExecutable(_ path: String, allowBuildFolder: Bool) throws {
        guard !allowBuildFolder, path.contains("/.build/") else { return }
        throw KuraError(.invalidArgument, "\(path) is inside a build folder: `swift package clean` or the next build would remove it, and every scheduled run would fail",
                        hint: "install kura first (`make install`, which puts it in /usr/local/bin) and run that one, or name a stable binary with --binary PATH; --allow-build-binary installs this one anyway; nothing was written")
    }

    public static func defaultDirectory(_ kind: Kind) -> String { kind == .cron ? "/etc/cron.d" : "/etc/systemd/system" }

    var runCommand: String { "\(Self.quote(executable)) run --due --quiet --config \(Self.quote(config.path))" }

    var scheduleComments: [String] {
        config.sources.map { s in
            "#   \(s.name) (\(s.kind.rawValue)): " + (s.schedule.isEmpty ? "no schedule (runs only when named: kura run \(s.name))" : s.scheduleText.map { "\"\($0)\"" }.joined(separator: ", "))
        }
    }

    /// The files to write into `directory`.
    public func files(_ kind: Kind, directory: String) -> [File] {
        let header = """
        # Written by `kura schedule install --\(kind.rawValue)` for \(config.path).
        # One trigger every minute; `kura run --due` runs the sources whose schedules are due
        # (time zone \(config.timeZone.identifier)) and does nothing otherwise. Schedules:
        \(scheduleComments.joined(separator: "\n"))
        # Change schedules in the configuration, not here.
        """
        switch kind {
        case .cron:
            return [File(path: directory + "/kura", contents: """
            \(header)
            SHELL=/bin/sh
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            * * * * * \(user) \(runCommand)

            """)]
        case .systemd:
            let service = """
            \(header)
            [Unit]
            Description=kura backups that are due (\(config.path))
            Documentation=file://\(config.path)
            After=network-online.target docker.service postgresql.service
            Wants=network-online.target

            [Service]
            Type=oneshot
            ExecStart=\(runCommand)
            Nice=10
            IOSchedulingClass=best-effort
            IOSchedulingPriority=7

            """
            let timer = """
            \(header)
            [Unit]
            Description=Start kura run --due every minute

            [Timer]
            OnCalendar=*-*-* *:*:00
            AccuracySec=1s
            Unit=kura.service

            [Install]
            WantedBy=timers.target

            """
            return [File(path: directory + "/kura.service", contents: service), File(path: directory + "/kura.timer", contents: timer)]
        }
    }

    /// Writes the files (mode 0644); returns them.
    public func install(_ kind: Kind, directory: String) throws -> [File] {
        let list = files(kind, directory: directory)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw KuraError(.io, "cannot create \(directory): \(error)")
        }
        for f in list {
            do {
                try Data(f.contents.utf8).write(to: URL(fileURLWithPath: f.path), options: .atomic)
                chmod(f.path, 0o644)
            } catch { throw KuraError(.io, "cannot write \(f.path): \(error)", hint: "run as root, or write elsewhere with --dir") }
        }
        return list
    }

    /// What to do after installing.
    public func nextSteps(_ kind: Kind, directory: String) -> String {
        switch kind {
        case .cron: return "cron reads \(directory)/kura by itself (within a minute)."
        case .systemd: return "now run: systemctl daemon-reload && systemctl enable --now kura.timer"
        }
    }

    static func quote(_ s: String) -> String {
        s.allSatisfy({ $0.isLetter || $0.isNumber || "/-_.,:@=+".contains($0) }) ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
