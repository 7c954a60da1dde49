import Foundation
import KuraPostgres
import KuraNotify
import KuraRepository

/// `kura status`: per source, the last run and its result, the snapshots it has in the repository, the
/// next scheduled run, the last check and the last verified restore.
public struct StatusReport: Sendable, Codable {
    public struct SourceStatus: Sendable, Codable {
        public var name: String
        public var type: String
        public var schedule: [String]
        /// "success", "failure" or "never".
        public var lastResult: String
        public var lastRun: Date?
        public var lastDurationSeconds: Double?
        public var lastError: String?
        public var lastSnapshot: String?
        public var lastGoodSnapshot: String?
        public var lastGoodTime: Date?
        /// Snapshots of this source (this host) in the repository; nil when the repository could not be read.
        public var snapshotCount: Int?
        /// Bytes this source's snapshots added to the repository (compressed, encrypted), summed.
        public var storedBytes: UInt64?
        /// Logical size of the newest snapshot.
        public var latestSize: UInt64?
        public var latestSnapshotTime: Date?
        public var nextRun: Date?
        public var due: Bool
        public var lastCheck: Date?
        public var lastCheckResult: String?
        public var lastVerifiedRestore: Date?
        public var lastVerifiedRestoreResult: String?
        /// When this source last succeeded (a run of it, from the state file or a run record).
        public var lastSuccess: Date?
        /// A scheduled source whose last success is older than one schedule interval plus one hour
        /// (``StatusReport/grace``), or that never succeeded: its backups have stopped.
        public var overdue: Bool = false
        /// When an overdue source became late: its last success plus one schedule interval plus its grace
        /// (nil when it is not late, or never succeeded).
        public var lateSince: Date?
        /// Each offsite target of the source: the last copy and how far the target lags.
        public var offsite: [OffsiteStatus] = []
        /// A postgres source with `wal-archive = true`: the archived WAL (newest segment, its age, gaps).
        public var wal: WALStatus?
    }

    /// How far one offsite target lags behind the repository for one source (from the state file:
    /// `status` does not open the targets).
    public struct OffsiteStatus: Sendable, Codable {
        public var target: String
        /// "success", "failure" or "never".
        public var lastResult: String
        public var lastAttempt: Date?
        public var lastError: String?
        /// The newest of the source's snapshots the target holds (its id in the repository) and its time.
        public var newestCopied: String?
        public var newestCopiedTime: Date?
        /// Seconds from the newest copied snapshot to now (nil: nothing copied yet).
        public var lagSeconds: Double?
        /// The source's snapshots in the repository that are newer than the newest copy.
        public var behind: Int?
    }

    /// How late a scheduled source's success may be by default: one schedule interval (the time between
    /// its two most recent scheduled times) plus this. A daily source is overdue 25 hours after its last
    /// success. `grace` in kura.toml (globally or per source) changes it.
    public static let grace: TimeInterval = 3_600
    public var host: String
    public var repository: String
    public var config: String
    public var timeZone: String
    public var generatedAt: Date
    /// A `kura run` holds the run lock right now.
    public var running: Bool
    public var runningPid: Int32?
    public var repositoryError: String?
    /// Why the state folder cannot be used (state file unreadable, folder not writable): then `kura run`
    /// fails, so the setup is not healthy.
    public var stateError: String?
    public var lastGC: Date?
    public var sources: [SourceStatus]

    /// True when the repository and the state can be used, no source's last run failed, and every
    /// scheduled source succeeded within one schedule interval plus an hour (none is ``SourceStatus/overdue``).
    public var healthy: Bool { problems.isEmpty }

    /// Why the status is not healthy, one line each (empty when it is).
    public var problems: [String] {
        var out: [String] = []
        if let e = repositoryError { out.append("repository: \(e.split(separator: "\n").first ?? "")") }
        if let e = stateError { out.append("state: \(e.split(separator: "\n").first ?? "")") }
        for s in sources {
            if s.lastResult == "failure" { out.append("source \(s.name): the last run failed") }
            for o in s.offsite where o.lastResult == "failure" {
                out.append("source \(s.name): the last copy to offsite \(o.target) failed" + (o.lastError.map { ": \($0.split(separator: "\n").first ?? "")" } ?? ""))
            }
            if let g = s.wal?.gaps.first {
                out.append("source \(s.name): the archived WAL has a gap (\(g.first) … \(g.last)): point-in-time recovery cannot cross it; take a base backup")
            }
            if s.overdue {
                out.append("source \(s.name): " + (s.lastSuccess.map { "late: no success since \(Timestamp.format($0))" + (s.lateSince.map { ", late since \(Timestamp.format($0))" } ?? "") + ", longer than its schedule and grace allow" } ?? "never succeeded"))
            }
        }
        return out
    }
}

extension StatusReport {
    /// Whether a scheduled source's backups have stopped: it never succeeded, or its last success is older
    /// than one schedule interval (between the two most recent scheduled times) plus `grace` (the
    /// source's `grace`, else the configuration's, default ``grace``). A source without a schedule is
    /// never overdue (it runs only when named).
    public static func overdue(schedule: Schedule, lastSuccess: Date?, now: Date, grace: TimeInterval = StatusReport.grace) -> Bool {
        guard !schedule.expressions.isEmpty else { return false }
        guard let lastSuccess else { return true }
        return lateSince(schedule: schedule, lastSuccess: lastSuccess, now: now, grace: grace) != nil
    }

    /// When a scheduled source that succeeded at `lastSuccess` became late (its last success plus one
    /// schedule interval plus `grace`), or nil while it is not late (or has no schedule).
    public static func lateSince(schedule: Schedule, lastSuccess: Date, now: Date, grace: TimeInterval = StatusReport.grace) -> Date? {
        guard !schedule.expressions.isEmpty, let latest = schedule.previous(atOrBefore: now) else { return nil }
        let before = schedule.previous(atOrBefore: latest.addingTimeInterval(-1)) ?? latest
        let deadline = lastSuccess.addingTimeInterval(latest.timeIntervalSince(before) + grace)
        return now > deadline ? deadline : nil
    }
}

extension Runner {
    /// Builds the status from the state file and (when it can be opened) the repository.
    public func status() async -> StatusReport {
        var repository: Repository?
        var repoError: String?
        do { repository = try await Resources.openRepository(config, environment) } catch { repoError = "\(error)" }
        return await status(repository: repository, openError: repoError)
    }

    /// The status from a repository opened already (nil: it could not be, for `openError`): `kura serve`
    /// keeps one open, `kura run` passes its own. `listed`: every snapshot, when the caller has read them.
    public func status(repository: Repository?, openError: String? = nil, snapshots listed: [Snapshot]? = nil) async -> StatusReport {
        let now = self.now
        let runState = (try? state.load()) ?? RunState()
        var repoError = openError
        var snapshots: [Snapshot] = []
        var runRecords: [RunReport] = []
        var verifyRecords: [(source: String, time: Date, ok: Bool, text: String)] = []
        if let repository {
            if let listed { snapshots = listed.filter { $0.host == host } } else {
                do { snapshots = try await repository.listSnapshots().filter { $0.host == host } } catch { repoError = "\(error)" }
            }
            let dec = JSONDecoder(); dec.dateDecodingStrategy = .iso8601
            runRecords = await Runner.runRecords(repository).filter { $0.host == host }
            struct V: Decodable { var source: String; var ok: Bool; var files: Int; var bytes: UInt64; var snapshot: String }
            for r in (try? await repository.listRecords(kind: "verify-restore")) ?? [] {
                if let v = try? dec.decode(V.self, from: Data(r.json)) {
                    verifyRecords.append((v.source, r.time, v.ok, v.ok ? "ok (\(v.files) files, \(v.bytes) bytes, snapshot \(v.snapshot.prefix(8)))" : "FAILED (snapshot \(v.snapshot.prefix(8)))"))
                }
            }
        }
        var out: [StatusReport.SourceStatus] = []
        for s in config.sources {
            let st = runState.sources[s.name]
            let record = runRecords.last { $0.source == s.name }
            let schedule = schedules[s.name]!
            let mine = snapshots.filter { $0.tags.contains(s.tag) }
            var lastResult = "never"
            if let ok = st?.lastSuccess { lastResult = ok ? "success" : "failure" } else if let r = record { lastResult = r.success ? "success" : "failure" }
            let verify = verifyRecords.last { $0.source == s.name }
            // The last success: a successful run in the state file (or the newest successful run record).
            var lastSuccess: Date? = runRecords.last { $0.source == s.name && $0.success }?.startedAt
            if let t = st?.lastSuccessTime(now: now) { lastSuccess = max(t, lastSuccess ?? t) }
            let grace = s.grace ?? config.grace
            let overdue = StatusReport.overdue(schedule: schedule, lastSuccess: lastSuccess, now: now, grace: grace)
            let lateSince = lastSuccess.flatMap { StatusReport.lateSince(schedule: schedule, lastSuccess: $0, now: now, grace: grace) }
            let due = DueCheck.dueSlot(schedule: schedule, lastSlot: st?.lastSlot, lastStarted: st?.lastStarted ?? record?.startedAt, now: now) != nil
            out.append(StatusReport.SourceStatus(
                name: s.name, type: s.kind.rawValue, schedule: s.scheduleText, lastResult: lastResult,
                lastRun: st?.lastStarted ?? record?.startedAt, lastDurationSeconds: st?.lastDurationSeconds ?? record?.durationSeconds,
                lastError: st.map { $0.lastSuccess == false ? $0.lastError : nil } ?? record?.error,
                lastSnapshot: st?.lastSnapshot ?? record?.snapshotID,
                lastGoodSnapshot: mine.last?.id?.hex ?? st?.lastGoodSnapshot, lastGoodTime: mine.last?.date ?? st?.lastGoodTime,
                snapshotCount: repository == nil ? nil : mine.count,
                storedBytes: repository == nil ? nil : mine.reduce(0) { $0 + ($1.summary?.bytesStored ?? 0) },
                latestSize: mine.last?.summary?.totalBytes, latestSnapshotTime: mine.last?.date,
                nextRun: schedule.next(after: now), due: due,
                lastCheck: st?.lastCheck, lastCheckResult: st?.lastCheckResult ?? record?.checkResult,
                lastVerifiedRestore: [st?.lastVerifyRestore, verify?.time].compactMap { $0 }.max(),
                lastVerifiedRestoreResult: st?.lastVerifyRestoreResult ?? verify?.text,
                lastSuccess: lastSuccess, overdue: overdue, lateSince: lateSince,
                offsite: s.offsite.map { name in
                    let o = st?.offsite?[name]
                    return StatusReport.OffsiteStatus(
                        target: name, lastResult: o?.lastSuccess.map { $0 ? "success" : "failure" } ?? "never", lastAttempt: o?.lastAttempt,
                        lastError: o?.lastSuccess == false ? o?.lastError : nil, newestCopied: o?.newestCopied, newestCopiedTime: o?.newestCopiedTime,
                        lagSeconds: o?.newestCopiedTime.map { now.timeIntervalSince($0) },
                        behind: repository == nil ? nil : OffsiteStep.behind(mine, source: s, host: host, newestID: o?.newestCopied, newest: o?.newestCopiedTime))
                }))
        }
        // Archived WAL, read once (the repository holds one archive) for the sources that archive.
        if let repository, out.indices.contains(where: { config.sources[$0].postgres?.walArchive == true }) {
            let wal = try? await WALInspector(repository: repository).status(now: now)
            for i in out.indices where config.sources[i].postgres?.walArchive == true { out[i].wal = wal }
        }
        return StatusReport(host: host, repository: Resources.repositoryLocation(config, environment), config: config.path,
                            timeZone: config.timeZone.identifier, generatedAt: now,
                            running: RunLock.isHeld(path: state.lockPath), runningPid: RunLock.isHeld(path: state.lockPath) ? RunLock.holder(path: state.lockPath) : nil,
                            repositoryError: repoError, stateError: state.problem(), lastGC: runState.lastGC, sources: out)
    }
}
