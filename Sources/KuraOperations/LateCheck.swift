import Foundation
import KuraCore
import KuraNotify

/// Which late spells were reported already: per source, the last success a "late" report was sent
/// for. Its own file (`<state-dir>/late.json`), because it is also written while another run holds the
/// run lock — a hung run is the commonest reason for a source to be late.
struct LateMarks: Codable, Sendable {
    var reported: [String: Date] = [:]

    static func path(_ state: StateStore) -> String { state.directory + "/late.json" }

    static func load(_ state: StateStore) -> LateMarks {
        guard let data = FileManager.default.contents(atPath: path(state)) else { return LateMarks() }
        return (try? StateStore.decoder.decode(LateMarks.self, from: data)) ?? LateMarks()
    }

    func save(_ state: StateStore) throws {
        let data = try StateStore.encoder.encode(self)
        let tmp = LateMarks.path(state) + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]),
              rename(tmp, LateMarks.path(state)) == 0 else {
            unlink(tmp)
            throw KuraError(.io, "cannot write \(LateMarks.path(state)): \(String(cString: strerror(errno)))")
        }
    }
}

extension Runner {
    /// `kura run --due`: the scheduled sources (other than `running`) whose last success on this host is
    /// older than one schedule interval plus their grace — a backup that silently stopped running (a hung
    /// run holding the lock, runs that keep failing, a clock or schedule gone wrong). Each late spell is
    /// reported once, as a failure report through every channel, until the source succeeds again. A
    /// source that never succeeded is shown by `status` but not reported here: its failures were.
    func lateReports(state: RunState, marks: inout LateMarks, running: Set<String>, now: Date) -> [RunReport] {
        var reports: [RunReport] = []
        for source in config.sources where !source.schedule.isEmpty && !running.contains(source.name) {
            guard let st = state.sources[source.name], let last = st.lastSuccessTime(now: now) else { continue }
            let grace = source.grace ?? config.grace
            guard let since = StatusReport.lateSince(schedule: schedules[source.name]!, lastSuccess: last, now: now, grace: grace),
                  marks.reported[source.name] != last else { continue }
            let zone = config.timeZone
            var report = RunReport(source: source.name, kind: source.kind.rawValue, success: false, startedAt: now, host: host,
                                   repository: Resources.repositoryLocation(config, environment))
            report.error = "late: no successful backup since \(ConfigChecker.format(last, zone)), late since \(ConfigChecker.format(since, zone)) "
                + "(schedule \(source.scheduleText.joined(separator: ", ")) plus a grace of \(Int(grace / 60)) min)"
                + (st.lastSuccess == false ? "; its last run failed: \(st.lastError?.split(separator: "\n").first.map(String.init) ?? "see the log")" : "")
            report.nextStep = "check that `kura run --due` still starts (systemctl list-timers 'kura*', or the crontab), that no run hangs (`kura status` shows a run in progress), and why the source's runs stopped or fail (the log); then run `kura run \(source.name)` by hand"
            report.lastGoodSnapshot = st.lastGoodSnapshot
            report.lastGoodTime = st.lastGoodTime
            logger.error("source is late", metadata: ["source": .string(source.name), "lastSuccess": .string(ConfigChecker.format(last, zone)),
                                                      "lateSince": .string(ConfigChecker.format(since, zone))])
            marks.reported[source.name] = last
            reports.append(report)
        }
        return reports
    }

    /// Finds the late sources, sends their reports, and remembers them; returns the sources and deliveries.
    func reportLate(state runState: RunState, running: Set<String>, now: Date) async -> (late: [String], deliveries: [RunOutcome.Delivery]) {
        var marks = LateMarks.load(state)
        let late = lateReports(state: runState, marks: &marks, running: running, now: now)
        guard !late.isEmpty else { return ([], []) }
        let channels: [any NotificationChannel]
        do { channels = try Resources.channels(config, environment) } catch {
            logger.error("notification channels unusable", metadata: ["error": .string("\(error)")])
            channels = []
        }
        var deliveries: [RunOutcome.Delivery] = []
        for report in late {
            for d in await Notifier(channels: channels).deliver([report], host: host) {
                deliveries.append(RunOutcome.Delivery(source: report.source, channel: d.channel, error: d.error))
            }
        }
        do { try marks.save(state) } catch { logger.error("cannot save the late marks", metadata: ["error": .string("\(error)")]) }
        return (late.map(\.source), deliveries)
    }
}
