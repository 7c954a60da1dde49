import ArgumentParser
import Foundation
import KuraOperations
import KuraRepository

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up the configured sources: backup → forget → gc → check → report.",
        discussion: """
        Runs the sources of the configuration (all, or those named) one after another. For each: the before hook, the backup (a snapshot tagged source:NAME; a "full" re-reads everything on the full-every days), the after hook, forget by its keep policy, gc when the [gc] policy says, the check its policy asks for, then the report: the state file, a record in the repository, and the notification channels. A failing source does not stop the others.

        --due runs only the sources whose schedule had a time since their last run (several missed times give one run), so one cron line or systemd timer every minute drives everything (`kura schedule install`). Only one run at a time: with --due a run that finds another in progress does nothing (exit 0; the next minute catches up); otherwise it waits --wait, then exits 11.
          kura run                      # every source, now
          kura run db volumes           # these two
          kura run --due --quiet        # what cron runs every minute
          kura run --due --textfile /var/lib/prometheus/node-exporter/kura.prom

        Exit codes: 0 all succeeded (or nothing due), 1 a source failed (its report says why), 3 a snapshot was saved but some files could not be read, 11 another run is in progress.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions
    @Argument(help: "Sources to run (default: all).") var sources: [String] = []
    @Flag(name: .long, help: "Run only the sources that are due by their schedules.") var due = false
    @Option(name: .long, help: ArgumentHelp("How long to wait for another run to finish (e.g. 30m; default: do not wait).", valueName: "duration")) var wait: String?
    @Option(name: .long, help: ArgumentHelp("Log format: text or json (default: the configuration's log-format).", valueName: "format")) var logFormat: String?
    @Option(name: .long, help: ArgumentHelp("At the end, write the metrics to this .prom file for node_exporter's textfile collector (default: the configuration's metrics-textfile; see docs/metrics.md).", valueName: "path")) var textfile: String?

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let config = try options.load()
            if let f = logFormat, f != "text", f != "json" { throw KuraError(.invalidArgument, "--log-format must be text or json") }
            ConfigOptions.bootstrapLogging(config, format: logFormat, quiet: global.quiet)
            var waitSeconds = 0.0
            if let w = wait {
                guard let s = ConfigurationParser.seconds(w) else { throw KuraError(.invalidArgument, "--wait \(w) is not a duration", hint: "e.g. --wait 30m") }
                waitSeconds = s
            }
            let runner = Runner(config: config, environment: options.environment(config, global))
            let outcome = try await runner.run(RunRequest(sources: sources, due: due, waitSeconds: waitSeconds, textfile: textfile))
            if global.json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                enc.dateEncodingStrategy = .iso8601
                try Terminal.writeStdout(Array(try enc.encode(outcome)) + [10])
            } else {
                print(outcome, config: config)
            }
            if outcome.lockHeld && due { return 0 }
            return outcome.exitCode
        }
    }

    private func print(_ outcome: RunOutcome, config: Configuration) {
        if outcome.lockHeld {
            Terminal.printError("kura: another kura run is in progress (pid \(outcome.lockHeldBy.map(String.init) ?? "?")); nothing done" + (due ? "" : "\n  hint: wait for it, or pass --wait 30m"))
            return
        }
        if outcome.results.isEmpty {
            if !global.quiet {
                Swift.print("nothing is due")
                for (name, next) in outcome.notDue.sorted(by: { $0.key < $1.key }) {
                    Swift.print("  \(name): next \(next.map { ConfigChecker.format($0, config.timeZone) } ?? "never (no schedule)")")
                }
            }
            return
        }
        for r in outcome.results {
            let rep = r.report
            if rep.success {
                guard !global.quiet else { continue }
                var line = "\(rep.source): \(r.incomplete ? "INCOMPLETE" : "ok") snapshot \(rep.snapshotID.map { String($0.prefix(8)) } ?? "-"), \(rep.files) files, \(Terminal.bytes(rep.logicalBytes)) (\(Terminal.bytes(rep.bytesAdded)) new), \(String(format: "%.1f", rep.durationSeconds)) s"
                if let k = rep.snapshotsRetained { line += ", \(k) kept" }
                Swift.print(line)
                if let c = rep.checkResult { Swift.print("  check: \(c)") }
                if let v = rep.verifyResult { Swift.print("  verify-restore: \(v)") }
                if let g = r.gc { Swift.print("  gc: freed \(Terminal.bytes(g.bytesFreed))") }
                for o in rep.offsite { Swift.print("  offsite \(o.target): \(o.line(config.timeZone))") }
                for w in rep.warnings { Swift.print("  warning: \(Terminal.escapingControls(w))") }
            } else {
                // The error can hold a server's answer or a command's output: escaped for the terminal.
                Terminal.printError("\(rep.source): FAILED: \(Terminal.escapingControls(rep.error ?? "unknown error"))")
                if let s = rep.lastGoodSnapshot { Terminal.printError("  last good snapshot: \(s.prefix(8))\(rep.lastGoodTime.map { " from \(ConfigChecker.format($0, config.timeZone))" } ?? "")") }
                if let n = rep.nextStep { Terminal.printError("  next step: \(n)") }
            }
        }
        if let e = outcome.textfileError { Terminal.printError("kura: the metrics textfile was not written: \(Terminal.escapingControls(e))") }
        for d in outcome.deliveries where d.error != nil {
            Terminal.printError("kura: the report for \(d.source) could not be sent through \(d.channel): \(Terminal.escapingControls(d.error!))")
        }
    }
}
