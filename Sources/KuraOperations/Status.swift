import Foundation
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
    }
    public var host: String
    public var repository: String
    public var config: String
    public var timeZone: String
    public var generatedAt: Date
    /// A `kura run` holds the run lock right now.
    public var running: Bool
    public var runningPid: Int32?
    public var repositoryError: String?
    public var lastGC: Date?
    public var sources: [SourceStatus]

    /// True when every source with a run has succeeded.
    public var healthy: Bool { repositoryError == nil && !sources.contains { $0.lastResult == "failure" } }
}

extension Runner {
    /// Builds the status from the state file and (when it can be opened) the repository.
    public func status() async -> StatusReport {
        let now = self.now
        let runState = (try? state.load()) ?? RunState()
        var repository: Repository?
        var repoError: String?
        do { repository = try await Resources.openRepository(config, environment) } catch { repoError = "\(error)" }
        var snapshots: [Snapshot] = []
        var runRecords: [RunReport] = []
        var verifyRecords: [(source: String, time: Date, ok: Bool, text: String)] = []
        if let repository {
            do { snapshots = try await repository.listSnapshots().filter { $0.host == host } } catch { repoError = "\(error)" }
            let dec = JSONDecoder(); dec.dateDecodingStrategy = .iso8601
            runRecords = ((try? await repository.listRecords(kind: "run")) ?? []).compactMap { try? dec.decode(RunReport.self, from: Data($0.json)) }.filter { $0.host == host }
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
                lastVerifiedRestoreResult: st?.lastVerifyRestoreResult ?? verify?.text))
        }
        return StatusReport(host: host, repository: Resources.repositoryLocation(config, environment), config: config.path,
                            timeZone: config.timeZone.identifier, generatedAt: now,
                            running: RunLock.isHeld(path: state.lockPath), runningPid: RunLock.isHeld(path: state.lockPath) ? RunLock.holder(path: state.lockPath) : nil,
                            repositoryError: repoError, lastGC: runState.lastGC, sources: out)
    }
}
