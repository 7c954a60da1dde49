import ArgumentParser
import Foundation
import KuraOperations
import KuraRepository

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each source's last run, result, snapshots, next run, last check and verified restore.",
        discussion: """
        Reads the local state file and the repository (when the password is at hand; otherwise the repository columns stay empty and repositoryError says why). --json is meant for monitoring: `healthy` is false when a source's last run failed, a scheduled source has not succeeded within one schedule interval plus one hour (a daily source: 25 hours; or never), the repository cannot be read, or the state folder cannot be read or written (stateError).
          kura status
          kura status --json | jq '.sources[] | select(.lastResult != "success")'
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let config = try options.load()
            let report = await Runner(config: config, environment: options.environment(config, global)).status()
            if global.json {
                struct Out: Encodable { var healthy: Bool; var status: StatusReport }
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                enc.dateEncodingStrategy = .iso8601
                var data = try enc.encode(report)
                // Put `healthy` beside the other top-level fields.
                if var obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
                    obj["healthy"] = report.healthy
                    data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
                }
                try Terminal.writeStdout(Array(data) + [10])
                return 0
            }
            let zone = config.timeZone
            func t(_ d: Date?) -> String {
                guard let d else { return "-" }
                let f = DateFormatter(); f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = zone; f.dateFormat = "yyyy-MM-dd HH:mm"
                return f.string(from: d)
            }
            print("host \(report.host), repository \(report.repository), times in \(report.timeZone)\(report.running ? "; a run is in progress (pid \(report.runningPid.map(String.init) ?? "?"))" : "")")
            if let e = report.repositoryError { print("repository: \(e.split(separator: "\n").first ?? "")") }
            print("SOURCE          RESULT    LAST RUN          DURATION  SNAPSHOTS  STORED      NEXT RUN          LAST CHECK        VERIFIED RESTORE")
            for s in report.sources {
                let cols = [s.name.padding(toLength: 15, withPad: " ", startingAt: 0),
                            s.lastResult.padding(toLength: 9, withPad: " ", startingAt: 0),
                            t(s.lastRun).padding(toLength: 17, withPad: " ", startingAt: 0),
                            (s.lastDurationSeconds.map { String(format: "%.1f s", $0) } ?? "-").padding(toLength: 9, withPad: " ", startingAt: 0),
                            (s.snapshotCount.map(String.init) ?? "?").padding(toLength: 10, withPad: " ", startingAt: 0),
                            (s.storedBytes.map { Terminal.bytes($0) } ?? "?").padding(toLength: 11, withPad: " ", startingAt: 0),
                            (t(s.nextRun) + (s.due ? "*" : "")).padding(toLength: 17, withPad: " ", startingAt: 0),
                            t(s.lastCheck).padding(toLength: 17, withPad: " ", startingAt: 0),
                            t(s.lastVerifiedRestore)]
                print(cols.joined(separator: " "))
                if s.lastResult == "failure", let e = s.lastError { print("  error: \(e.split(separator: "\n").first ?? "")") }
                for o in s.offsite {
                    let lag = o.lagSeconds.map { String(format: " (%.1f h old)", $0 / 3600) } ?? ""
                    print("  offsite \(o.target): \(o.lastResult), newest copy \(t(o.newestCopiedTime))\(lag)" + ((o.behind ?? 0) > 0 ? ", \(o.behind!) snapshot\(o.behind == 1 ? "" : "s") behind" : ""))
                }
            }
            if report.sources.contains(where: \.due) { print("* due now (the next `kura run --due` runs it)") }
            if let e = report.stateError { print("state: \(e.split(separator: "\n").first ?? "")") }
            let problems = report.problems
            print(problems.isEmpty ? "healthy" : "NOT HEALTHY:\n" + problems.map { "  " + $0 }.joined(separator: "\n"))
            return 0
        }
    }
}
