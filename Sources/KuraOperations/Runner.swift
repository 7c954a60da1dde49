import Foundation
import KuraArchiver
import KuraChecker
import KuraMaintenance
import KuraPostgres
import KuraNotify
import KuraRepository
import Logging

/// What `kura run` was asked to do.
public struct RunRequest: Sendable {
    /// Source names; empty: every source.
    public var sources: [String] = []
    /// Only the sources whose schedule says they are due.
    public var due = false
    /// Seconds to wait for another run to finish (0: give up at once).
    public var waitSeconds: Double = 0
    /// Where to write the metrics at the end (`--textfile`; default: the configuration's `metrics-textfile`).
    public var textfile: String?
    public init(sources: [String] = [], due: Bool = false, waitSeconds: Double = 0, textfile: String? = nil) {
        self.sources = sources; self.due = due; self.waitSeconds = waitSeconds; self.textfile = textfile
    }
}

/// The result of one source in a run.
public struct SourceRunResult: Sendable, Codable {
    public var report: RunReport
    /// The snapshot is saved but some entries could not be read.
    public var incomplete: Bool
    /// The scheduled time this run was for (`--due`).
    public var slot: Date?
    public var gc: GCReport?
}

/// The result of `kura run`.
public struct RunOutcome: Sendable, Codable {
    public struct Delivery: Sendable, Codable { public var source: String; public var channel: String; public var error: String? }
    public var results: [SourceRunResult] = []
    /// Sources that were not due, with the next time they are.
    public var notDue: [String: Date?] = [:]
    /// Another run held the lock: nothing was done.
    public var lockHeldBy: Int32?
    public var lockHeld = false
    public var deliveries: [Delivery] = []
    /// `--due`: scheduled sources found late (no success within their schedule and grace), reported now.
    public var late: [String] = []
    /// Why the metrics textfile could not be written (the run's results stand).
    public var textfileError: String?

    /// 0 all good (or nothing to do), 1 a source failed or was found late, 3 a snapshot is incomplete,
    /// 11 another run holds the lock.
    public var exitCode: Int32 {
        if lockHeld { return 11 }
        if results.contains(where: { !$0.report.success }) || !late.isEmpty { return 1 }
        if results.contains(where: \.incomplete) { return 3 }
        return 0
    }
}

/// `kura run`: for each selected source, one after another: before hook → backup → after hook →
/// forget (the source's keep policy) → gc (when the gc policy says) → check (the source's check
/// policy) → offsite copies (``OffsiteStep``: copy, the target's `offsite-keep`) → report (state file, a `run` record in the repository, notification channels).
/// A failing source does not stop the others. One host-wide lock keeps two runs from overlapping.
public final class Runner: Sendable {
    public let config: Configuration
    public let environment: OperationsEnvironment
    let logger: Logger
    let state: StateStore

    public init(config: Configuration, environment: OperationsEnvironment = OperationsEnvironment(), logger: Logger = Logger(label: "kura.run")) {
        self.config = config
        self.environment = environment
        self.logger = logger
        self.state = StateStore(directory: StateStore.directory(for: config, environment: environment.variables))
    }

    var now: Date { environment.clock.now() }
    var host: String { Resources.host(config) }
    var schedules: [String: Schedule] {
        Dictionary(uniqueKeysWithValues: config.sources.map { ($0.name, Schedule($0.schedule, timeZone: config.timeZone)) })
    }

    /// Runs the request. Throws only for problems that stop everything before any source ran
    /// (an unknown source name, an unusable state folder); per-source failures are in the outcome.
    public func run(_ request: RunRequest) async throws -> RunOutcome {
        for name in request.sources where config.source(named: name) == nil {
            throw KuraError(.invalidArgument, "there is no source named \"\(name)\" in \(config.path.isEmpty ? "the configuration" : config.path)",
                            hint: "sources: \(config.sources.map(\.name).joined(separator: ", "))")
        }
        try state.ensureDirectory()
        var outcome = RunOutcome()
        guard let lock = try await RunLock.acquire(path: state.lockPath, wait: request.waitSeconds) else {
            outcome.lockHeld = true
            outcome.lockHeldBy = RunLock.holder(path: state.lockPath)
            logger.notice("another kura run is in progress; nothing done", metadata: ["pid": .string("\(outcome.lockHeldBy.map(String.init) ?? "?")")])
            // A run that hangs keeps every later one out: its sources go late, and that is reported.
            if request.due, let runState = try? state.load() {
                (outcome.late, outcome.deliveries) = await reportLate(state: runState, running: [], now: now)
            }
            return outcome
        }
        defer { lock.release() }

        var runState = try state.load()
        let started = now
        let selected = request.sources.isEmpty ? config.sources : request.sources.compactMap { config.source(named: $0) }
        var plan: [(SourceConfig, Date?)] = []
        for s in selected {
            if request.due {
                let st = runState.sources[s.name]
                let schedule = schedules[s.name]!
                if let slot = DueCheck.dueSlot(schedule: schedule, lastSlot: st?.lastSlot, lastStarted: st?.lastStarted, now: started) {
                    plan.append((s, slot))
                } else {
                    outcome.notDue[s.name] = schedule.next(after: started)
                }
            } else {
                plan.append((s, nil))
            }
        }
        // Late sources (scheduled, not running now, no success within schedule + grace): reported once.
        if request.due {
            (outcome.late, outcome.deliveries) = await reportLate(state: runState, running: Set(plan.map(\.0.name)), now: started)
        }
        if plan.isEmpty {
            logger.debug("nothing is due")
            return outcome
        }

        // One repository for the whole run; if it cannot be opened every source fails with that reason.
        var repository: Repository?
        var openError: (any Error)?
        do {
            repository = try await Resources.openRepository(config, environment)
            repository?.setWarningHandler { [logger] in logger.warning("\($0)") }
        } catch {
            openError = error
            logger.error("cannot open the repository", metadata: ["repository": .string(Resources.repositoryLocation(config, environment)), "error": .string("\(error)")])
        }
        let channels: [any NotificationChannel]
        do { channels = try Resources.channels(config, environment) } catch {
            logger.error("notification channels unusable", metadata: ["error": .string("\(error)")])
            channels = []
        }
        let notifier = Notifier(channels: channels)

        // Reports go out while the next source runs (a hung channel must not delay its backup); each
        // channel is bounded by its own timeout, and the run waits for all of them at the end.
        let host = self.host
        await withTaskGroup(of: [RunOutcome.Delivery].self) { deliveries in
            for (source, slot) in plan {
                // Dead-man checks time the run from here (healthchecks' /start); bounded by each channel's timeout.
                for d in await notifier.sourceStarted(source.name, host: host) where d.error != nil {
                    outcome.deliveries.append(RunOutcome.Delivery(source: source.name, channel: d.channel, error: d.error))
                }
                var result = await runSource(source, repository: &repository, openError: openError, state: &runState, slot: slot)
                result.slot = slot
                do { try state.save(runState) } catch {
                    logger.error("cannot save the state file", metadata: ["error": .string("\(error)")])
                    result.report.warnings.append("the state file could not be written: \(error)")
                }
                if let repository {
                    do {
                        let enc = JSONEncoder()
                        enc.dateEncodingStrategy = .iso8601
                        enc.outputFormatting = [.sortedKeys]
                        try await repository.saveRecord(kind: "run", json: Array(try enc.encode(result.report)), time: result.report.startedAt)
                    } catch { logger.warning("cannot store the run report in the repository", metadata: ["error": .string("\(error)")]) }
                }
                let report = result.report, name = source.name, logger = self.logger
                deliveries.addTask {
                    await notifier.deliver([report], host: host).map { d in
                        if let e = d.error {
                            logger.error("notification failed", metadata: ["channel": .string(d.channel), "source": .string(name), "error": .string(e)])
                        } else {
                            logger.debug("notification sent", metadata: ["channel": .string(d.channel), "source": .string(name)])
                        }
                        return RunOutcome.Delivery(source: name, channel: d.channel, error: d.error)
                    }
                }
                outcome.results.append(result)
            }
            for await sent in deliveries { outcome.deliveries += sent }
        }
        // In the order of the sources, then of the channels (they finished in any order).
        let order = Dictionary(plan.enumerated().map { ($1.0.name, $0) }, uniquingKeysWith: { a, _ in a })
        outcome.deliveries = outcome.deliveries.enumerated().sorted { (order[$0.element.source] ?? 0, $0.offset) < (order[$1.element.source] ?? 0, $1.offset) }.map(\.element)
        // Last: the metrics for node_exporter, from the state and the repository as this run left them.
        if let path = request.textfile ?? config.metricsTextfile {
            do { try await writeMetricsTextfile(path, repository: repository, openError: openError.map { "\($0)" }) } catch {
                logger.error("cannot write the metrics textfile", metadata: ["path": .string(path), "error": .string("\(error)")])
                outcome.textfileError = "\(error)"
            }
        }
        return outcome
    }

    /// One source, start to end. Never throws: failures end up in the report.
    func runSource(_ source: SourceConfig, repository sharedRepository: inout Repository?, openError: (any Error)?, state: inout RunState, slot: Date?) async -> SourceRunResult {
        let started = now
        let clockStart = Date()
        let logMark = environment.logMark()  // the failure report's log tail starts here
        var st = state.sources[source.name] ?? RunState.SourceState()
        var report = RunReport(source: source.name, kind: source.kind.rawValue, success: false, startedAt: started, host: host,
                               repository: Resources.repositoryLocation(config, environment))
        var incomplete = false
        var gcReport: GCReport?
        let meta: Logger.Metadata = ["source": .string(source.name), "type": .string(source.kind.rawValue)]
        logger.info("source started", metadata: meta)
        var failure: (step: String, error: any Error)?
        var snapshot: Snapshot?
        var hookEnv = ["KURA_SOURCE": source.name, "KURA_CONFIG": config.path]

        if let repository = sharedRepository {
            // Before hook.
            var beforeOK = true
            if let before = source.before {
                hookEnv["KURA_HOOK"] = "before"
                let o = await HookRunner.run(before, environment: hookEnv)
                for line in o.output { logger.info("before hook: \(line)", metadata: meta) }
                if !o.succeeded {
                    beforeOK = false
                    failure = ("before hook", KuraError(.commandFailed, "the before hook \(o.timedOut ? "timed out after \(Int(before.timeoutSeconds)) s" : "exited with status \(o.status)"): \(before.command)"
                                                        + (o.output.isEmpty ? "" : "\n  its output ends with:\n    " + o.output.suffix(8).joined(separator: "\n    ")),
                                                        hint: "no backup was made; fix the hook (run it by hand with /bin/sh -c) or raise before-timeout"))
                }
            }
            // Backup.
            if beforeOK {
                let weekday = Schedule.floorMod(Schedule.floorDiv(Int(started.timeIntervalSince1970) + config.timeZone.secondsFromGMT(for: started), 86_400) + 4, 7)
                let full = source.fullEvery.contains(weekday)
                do {
                    let backup = SourceBackup(config: config, source: source, repository: repository, host: host, full: full,
                                              now: started, logger: logger)
                    let outcome = try await Runner.withTimeLimit(source.timeLimitSeconds, what: "the backup of source \(source.name)") {
                        try await backup.run()
                    }
                    let s = outcome.result.snapshot
                    snapshot = s
                    incomplete = s.incomplete
                    report.warnings += outcome.warnings + outcome.result.warnings
                    report.warnings += outcome.result.errors.prefix(20).map { "could not read \($0.path): \($0.message)" }
                    if outcome.result.errors.count > 20 { report.warnings.append("… and \(outcome.result.errors.count - 20) more unreadable entries (see `kura snapshots --json`)") }
                    report.snapshotID = s.id?.hex
                    if let sum = s.summary {
                        report.files = sum.files
                        report.logicalBytes = sum.totalBytes
                        report.bytesAdded = sum.bytesAdded
                        report.bytesStored = sum.bytesStored
                        report.dedupRatio = sum.totalBytes == 0 ? 1 : Double(sum.totalBytes) / Double(max(1, sum.bytesAdded))
                    }
                    logger.info("snapshot saved", metadata: meta.merging(["snapshot": .string(s.id?.short ?? ""), "full": .string("\(full)"),
                                                                          "files": .string("\(report.files)"), "added": .string("\(report.bytesAdded)")]) { a, _ in a })
                } catch {
                    failure = ("backup", error)
                }
            }
            // After hook: always, once the before hook was tried, so it can undo what before did.
            if let after = source.after {
                hookEnv["KURA_HOOK"] = "after"
                hookEnv["KURA_RESULT"] = failure == nil ? "success" : "failure"
                hookEnv["KURA_SNAPSHOT"] = snapshot?.id?.hex ?? ""
                let o = await HookRunner.run(after, environment: hookEnv)
                for line in o.output { logger.info("after hook: \(line)", metadata: meta) }
                if !o.succeeded {
                    let e = KuraError(.commandFailed, "the after hook \(o.timedOut ? "timed out" : "exited with status \(o.status)"): \(after.command)"
                                      + (o.output.isEmpty ? "" : "\n  its output ends with:\n    " + o.output.suffix(8).joined(separator: "\n    ")),
                                      hint: "whatever the hook restarts may still be down; run it by hand")
                    if failure == nil { failure = ("after hook", e) } else { report.warnings.append(e.message) }
                }
            }
            // Maintenance, only after a saved snapshot.
            if failure == nil, snapshot != nil {
                if let keep = source.keep {
                    do {
                        let (retained, removed) = try await forget(source, policy: keep, repository: repository)
                        report.snapshotsRetained = retained
                        st.snapshotsRetained = retained
                        logger.info("forget applied", metadata: meta.merging(["kept": .string("\(retained)"), "removed": .string("\(removed)")]) { a, _ in a })
                        if removed > 0 || config.gc.every == .always, config.gc.every.isDue(last: state.lastGC, now: started) {
                            var options = GCOptions()
                            options.maxUnused = config.gc.maxUnused
                            gcReport = try await GarbageCollector(repository: repository, options: options).run()
                            state.lastGC = started
                            state.lastGCResult = "freed \(gcReport!.bytesFreed) bytes"
                            logger.info("gc done", metadata: ["freed": .string("\(gcReport!.bytesFreed)"), "packsDeleted": .string("\(gcReport!.packsDeleted)")])
                        }
                    } catch { failure = ("forget/gc", error) }
                }
                if failure == nil, source.check.enabled {
                    do {
                        let result = try await check(source, repository: repository, now: started)
                        report.checkResult = result.text
                        st.lastCheck = started
                        st.lastCheckResult = result.text
                        if !result.healthy { failure = ("check", KuraError(.corrupt, "the integrity check found damage: \(result.text)", hint: "run `kura check --read-data` and see `kura repair --help`; do not run gc until it is understood")) }
                    } catch { failure = ("check", error) }
                }
                if failure == nil, source.check.verifyRestore.isDue(last: st.lastVerifyRestore, now: started), let s = snapshot {
                    do {
                        let v = try await RestoreVerifier(repository: repository).verify(s)
                        report.verifyResult = v.text
                        st.lastVerifyRestore = started
                        st.lastVerifyRestoreResult = v.text
                        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]; enc.dateEncodingStrategy = .iso8601
                        _ = try? await repository.saveRecord(kind: "verify-restore", json: Array(try enc.encode(v.record(source: source.name, host: host, time: started))), time: started)
                        if !v.ok { failure = ("verify-restore", KuraError(.corrupt, "reading back snapshot \(s.id?.short ?? "") failed: \(v.text)", hint: "run `kura check --read-data`")) }
                    } catch { failure = ("verify-restore", error) }
                }
                // Offsite: only a snapshot that passed its checks leaves the host.
                if failure == nil, !source.offsite.isEmpty {
                    let step = OffsiteStep(config: config, environment: environment, host: host, logger: logger, now: started)
                    var offsiteStates = st.offsite ?? [:]
                    for name in source.offsite {
                        guard let target = config.offsite.first(where: { $0.name == name }) else { continue }
                        var targetState = offsiteStates[name] ?? RunState.OffsiteState()
                        let (result, error) = await step.run(source: source, target: target, repository: repository, state: &targetState)
                        offsiteStates[name] = targetState
                        report.offsite.append(result)
                        if let error, failure == nil { failure = ("offsite \(name)", error) }
                    }
                    st.offsite = offsiteStates
                }
            }
        } else {
            failure = ("open repository", openError ?? KuraError(.fatal, "the repository could not be opened"))
        }

        let duration = Date().timeIntervalSince(clockStart)
        report.durationSeconds = duration
        report.success = failure == nil
        st.lastStarted = started
        st.lastFinished = started.addingTimeInterval(duration)
        if let slot { st.lastSlot = slot }
        st.lastSuccess = report.success
        st.lastDurationSeconds = duration
        st.lastSnapshot = snapshot?.id?.hex
        if report.success, let s = snapshot {
            st.lastGoodSnapshot = s.id?.hex
            st.lastGoodTime = s.date
            st.lastError = nil
        }
        if let failure {
            let k = KuraError.from(failure.error)
            let text = k.message
            report.nextStep = k.hint
            report.error = "\(failure.step): \(text)"
            st.lastError = report.error
            if report.nextStep == nil { report.nextStep = Runner.nextStep(for: failure.step) }
            logger.error("source failed", metadata: meta.merging(["step": .string(failure.step), "error": .string(text)]) { a, _ in a })
            // What is still safe: the newest snapshot of this source.
            if let repository = sharedRepository, let last = try? await repository.listSnapshots().last(where: { $0.tags.contains(source.tag) && $0.host == host }) {
                report.lastGoodSnapshot = last.id?.hex
                report.lastGoodTime = last.date
            } else {
                report.lastGoodSnapshot = st.lastGoodSnapshot
                report.lastGoodTime = st.lastGoodTime
            }
            report.logTail = environment.logTail(40, logMark)
        }
        state.sources[source.name] = st
        let summaryLine = "RUN SUMMARY source=\(source.name) result=\(report.success ? (incomplete ? "incomplete" : "success") : "failure") snapshot=\(report.snapshotID.map { String($0.prefix(8)) } ?? "-") files=\(report.files) bytes=\(report.logicalBytes) added=\(report.bytesAdded) duration=\(String(format: "%.1f", duration))s"
            + (report.error.map { " error=\"\($0.split(separator: "\n").first ?? "")\"" } ?? "")
        logger.notice("\(summaryLine)")
        return SourceRunResult(report: report, incomplete: incomplete, slot: slot, gc: gcReport)
    }

    /// Runs `body`, cancelled after `seconds` (nil: no limit) with `KuraError(.timedOut)`. Cancellation
    /// stops child processes (pg_dump, a command source) at once; the rest of the backup ends at its
    /// next step, and no snapshot is saved.
    static func withTimeLimit<T: Sendable>(_ seconds: Double?, what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let seconds else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask { try await Task.sleep(for: .milliseconds(Int(seconds * 1000))); return nil }
            defer { group.cancelAll() }
            if let first = try await group.next(), let value = first { return value }
            throw KuraError(.timedOut, "\(what) took longer than its time limit of \(Int(seconds)) s and was stopped; no snapshot was saved",
                            hint: "find what is slow or stuck (the log says where it was), or raise time-limit for the source")
        }
    }

    static func nextStep(for step: String) -> String {
        switch step {
        case "open repository": return "check that the repository disk is mounted and the password file is right; then run `kura run SOURCE`"
        case "backup": return "fix the cause above, then run `kura run SOURCE` by hand; earlier snapshots are intact"
        default: return "see the log (log-file) and run `kura run SOURCE` by hand once fixed"
        }
    }

    /// Applies the source's keep policy to its snapshots on this host (one group). Returns (kept, removed).
    func forget(_ source: SourceConfig, policy: RetentionPolicy, repository: Repository) async throws -> (Int, Int) {
        let result = try await Runner.forget(source, policy: policy, repository: repository, host: host, timeZone: config.timeZone, now: max(now, Date()))
        // Archived WAL that no kept base backup needs goes with them (keep-wal widens the window).
        if source.postgres?.walArchive == true {
            _ = try await WALInspector(repository: repository).applyRetention(keepWAL: config.keepWALSeconds, now: max(now, Date()))
        }
        return result
    }

    /// Applies `policy` to the source's snapshots of `host` in `repository` (the repository itself, or an
    /// offsite target with `offsite-keep`), with calendar periods in `timeZone`. Returns (kept, removed).
    static func forget(_ source: SourceConfig, policy: RetentionPolicy, repository: Repository, host: String,
                       timeZone: TimeZone, now: Date) async throws -> (Int, Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let tag = source.tag
        let groups = try await Forgetter(repository: repository).run(policy: policy, grouping: [], host: host, filter: { $0.tags.contains(tag) },
                                                                      dryRun: false, calendar: calendar, now: now)
        return (groups.reduce(0) { $0 + $1.keep.count }, groups.reduce(0) { $0 + $1.remove.count })
    }

    struct CheckSummary { var healthy: Bool; var text: String }

    /// The structure check and, per policy, a part of the data. `N/M` rotates through the M parts by
    /// the day (day number since 1970 in the configured zone), so 1/7 covers everything each week.
    func check(_ source: SourceConfig, repository: Repository, now: Date) async throws -> CheckSummary {
        var options = CheckOptions()
        var what = "structure"
        if let sub = source.check.readDataSubset {
            let parts = sub.split(separator: "/")
            if parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]) {
                if n == m { options.readData = .all; what += " + all data" }
                else if n == 1 {
                    let day = Schedule.floorDiv(Int(now.timeIntervalSince1970) + config.timeZone.secondsFromGMT(for: now), 86_400)
                    let part = Schedule.floorMod(day, m) + 1
                    options.readData = .part(part, of: m)
                    what += " + data part \(part)/\(m)"
                } else { options.readData = .fraction(Double(n) / Double(m)); what += " + \(n)/\(m) of the data (random)" }
            } else {
                options.readData = try CheckOptions.DataSubset.parse(sub)
                what += " + \(sub) of the data"
            }
        }
        let report = try await Checker(repository: repository, options: options).run()
        if report.isHealthy {
            return CheckSummary(healthy: true, text: "ok (\(what): \(report.snapshots) snapshots, \(report.packs) packs\(options.readData != nil ? ", \(report.packsRead) packs read" : ""))")
        }
        let first = report.problems.prefix(3).map { "\($0.kind) \($0.object): \($0.message)" }.joined(separator: "; ")
        return CheckSummary(healthy: false, text: "\(report.problems.count) problems (\(what)): \(first)")
    }
}
