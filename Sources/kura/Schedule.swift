import ArgumentParser
import Foundation
import KuraOperations
import KuraRepository

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Show the next runs, or install the cron entry / systemd timer that drives `kura run --due`.",
        subcommands: [ScheduleShow.self, ScheduleInstall.self])
}

struct ScheduleShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the next runs of each source.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions
    @Option(name: .long, help: ArgumentHelp("How many upcoming runs to list per source.", valueName: "n")) var count = 3

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let config = try options.load()
            let now = Date()
            struct Entry: Encodable { var source: String; var schedule: [String]; var next: [Date] }
            var entries: [Entry] = []
            for s in config.sources {
                let schedule = Schedule(s.schedule, timeZone: config.timeZone)
                var next: [Date] = []
                var t = now
                for _ in 0..<max(1, count) { guard let n = schedule.next(after: t) else { break }; next.append(n); t = n }
                entries.append(Entry(source: s.name, schedule: s.scheduleText, next: next))
            }
            if global.json {
                let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]; enc.dateEncodingStrategy = .iso8601
                try Terminal.writeStdout(Array(try enc.encode(entries)) + [10])
                return 0
            }
            print("times in \(config.timeZone.identifier)")
            for e in entries {
                print("\(e.source)  \(e.schedule.isEmpty ? "(no schedule: runs only when named)" : e.schedule.map { "\"\($0)\"" }.joined(separator: ", "))")
                for n in e.next { print("  \(ConfigChecker.format(n, config.timeZone))") }
            }
            return 0
        }
    }
}

struct ScheduleInstall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Write the cron entry or the systemd service and timer that run `kura run --due` every minute.",
        discussion: """
        Both variants install one trigger per minute; kura decides what is due from the schedules in the configuration (in its time zone), so schedules change without re-installing, missed runs are caught up, and runs never overlap.
          kura schedule install --cron --dry-run        # print /etc/cron.d/kura
          kura schedule install --systemd               # write kura.service and kura.timer to /etc/systemd/system
          systemctl daemon-reload && systemctl enable --now kura.timer
        The entries run the installed binary: a kura inside a build folder (.build/) is refused, since a clean or rebuild removes it — install it with `make install` (or name one with --binary PATH; --allow-build-binary overrides).
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions
    @Flag(name: .long, help: "Write /etc/cron.d/kura (the default).") var cron = false
    @Flag(name: .long, help: "Write kura.service and kura.timer.") var systemd = false
    @Flag(name: .long, help: "Print the files, write nothing.") var dryRun = false
    @Option(name: .long, help: ArgumentHelp("Folder to write to (default: /etc/cron.d or /etc/systemd/system).", valueName: "dir")) var dir: String?
    @Option(name: [.long, .customLong("binary")], help: ArgumentHelp("The kura binary the entries run (default: this one; --binary is the same option).", valueName: "path")) var executable: String?
    @Flag(name: .long, help: "Install even though the binary lies in a build folder (.build/), which a clean or rebuild removes.") var allowBuildBinary = false
    @Option(name: .long, help: ArgumentHelp("The user cron runs kura as.", valueName: "name")) var user = "root"

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            guard !(cron && systemd) else { throw KuraError(.invalidArgument, "choose one of --cron and --systemd") }
            let config = try options.load()
            let kind: ScheduleInstaller.Kind = systemd ? .systemd : .cron
            let binary = executable ?? ScheduleInstaller.currentExecutable
            try ScheduleInstaller.checkExecutable(binary, allowBuildFolder: allowBuildBinary)
            var installer = ScheduleInstaller(config: config, executable: binary)
            installer.user = user
            let directory = dir ?? ScheduleInstaller.defaultDirectory(kind)
            let files = dryRun ? installer.files(kind, directory: directory) : try installer.install(kind, directory: directory)
            if global.json {
                struct Out: Encodable { var kind: String; var dryRun: Bool; var files: [ScheduleInstaller.File]; var next: String }
                try Terminal.json(Out(kind: kind.rawValue, dryRun: dryRun, files: files, next: installer.nextSteps(kind, directory: directory)))
                return 0
            }
            for f in files {
                if dryRun { print("# ---- \(f.path)"); print(f.contents, terminator: "") } else if !global.quiet { print("wrote \(f.path)") }
            }
            if !dryRun && !global.quiet { print(installer.nextSteps(kind, directory: directory)) }
            return 0
        }
    }
}
