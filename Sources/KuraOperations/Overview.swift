import Foundation
import KuraNotify
import KuraRepository
import KuraStore

/// Everything the dashboard (`kura serve`) shows and the metrics (`/metrics`, `kura run --textfile`)
/// export: the ``StatusReport`` of every source plus history and storage figures. Built by
/// ``Runner/overview(repository:openError:now:)`` from the state file and the repository; it adds no
/// judgement of its own (results, lateness and health are the status's).
public struct Overview: Sendable, Codable {
    /// Bytes stored on one calendar day (in the configuration's time zone).
    public struct DayBytes: Sendable, Codable, Equatable {
        /// `yyyy-MM-dd`.
        public var day: String
        public var bytes: UInt64
        public init(day: String, bytes: UInt64) { self.day = day; self.bytes = bytes }
    }

    /// One source of the configuration.
    public struct Source: Sendable, Codable {
        /// What `kura status` says about it.
        public var status: StatusReport.SourceStatus
        /// No success within its schedule plus the grace period (the status's `overdue`), or never.
        public var late: Bool
        /// Bytes added to the repository's storage (compressed, encrypted) per day over the last
        /// ``Overview/historyDays`` days, oldest first, days without a backup included (as 0). From the
        /// run records (kept after forget) and, for snapshots without one, the snapshots' own summaries.
        public var bytesAddedPerDay: [DayBytes]
        /// Bytes the newest snapshot (or run) of this source added to storage.
        public var lastBytesAdded: UInt64?
        /// Logical bytes of the source's retained snapshots ÷ the bytes they added to storage: how much
        /// dedup and compression save. Overstated once the first snapshot was forgotten (its data lives on
        /// in later snapshots, but its summary is gone); nil without snapshots.
        public var dedupRatio: Double?
    }

    /// Where the repository's bytes are.
    public struct Storage: Sendable, Codable {
        /// Snapshots in the repository (every host).
        public var snapshots: Int?
        /// Logical bytes of every snapshot (what restoring all of them would write).
        public var logicalBytes: UInt64?
        /// Bytes the blobs take in packs (compressed, encrypted), from the index.
        public var storedBytes: UInt64?
        /// `logicalBytes ÷ storedBytes`.
        public var dedupRatio: Double?
        /// Free and total bytes of the file system holding a local repository (nil for S3).
        public var freeBytes: UInt64?
        public var fileSystemBytes: UInt64?
        /// Average bytes stored per day over the last ``Overview/growthWindowDays`` days (every host).
        public var growthBytesPerDay: Double?
        /// `freeBytes ÷ growthBytesPerDay`; nil when nothing grows or the free space is unknown.
        public var daysUntilFull: Double?
    }

    /// Days of history in ``Source/bytesAddedPerDay``.
    public static let historyDays = 30
    /// Days over which the growth rate is averaged.
    public static let growthWindowDays = 14

    public var generatedAt: Date
    public var host: String
    public var repository: String
    public var timeZone: String
    public var running: Bool
    public var healthy: Bool
    public var problems: [String]
    public var repositoryError: String?
    public var stateError: String?
    public var lastGC: Date?
    public var storage: Storage
    public var sources: [Source]
}

extension Runner {
    /// Builds the overview from a repository opened already (nil: it could not be, for `openError`).
    /// Lists snapshots (unless the caller passes them, `listed`) and run records once; reads no pack data.
    public func overview(repository: Repository?, openError: String? = nil, snapshots listed: [Snapshot]? = nil) async -> Overview {
        var openError = openError
        var snapshots: [Snapshot]? = listed
        var records: [RunReport] = []
        if let repository {
            if snapshots == nil {
                do { snapshots = try await repository.listSnapshots() } catch { openError = "\(error)" }
            }
            records = await Runner.runRecords(repository)
        }
        let status = await self.status(repository: snapshots == nil ? nil : repository, openError: openError, snapshots: snapshots)
        let now = status.generatedAt
        let zone = config.timeZone
        let days = Overview.dayKeys(ending: now, count: Overview.historyDays, zone: zone)
        let all = snapshots ?? []

        var sources: [Overview.Source] = []
        for s in status.sources {
            let tag = SourceConfig.tag(for: s.name)
            let mine = all.filter { $0.host == status.host && $0.tags.contains(tag) }
            let runs = records.filter { $0.source == s.name && $0.host == status.host && $0.success }
            var perDay: [String: UInt64] = [:]
            let recorded = Set(runs.compactMap(\.snapshotID))
            for r in runs { perDay[Overview.dayKey(r.startedAt, zone: zone), default: 0] += r.bytesStored }
            for snap in mine where !(snap.id.map { recorded.contains($0.hex) } ?? false) {
                perDay[Overview.dayKey(snap.date, zone: zone), default: 0] += snap.summary?.bytesStored ?? 0
            }
            let logical = mine.reduce(UInt64(0)) { $0 + ($1.summary?.totalBytes ?? 0) }
            let stored = mine.reduce(UInt64(0)) { $0 + ($1.summary?.bytesStored ?? 0) }
            let newest = mine.last?.summary?.bytesStored
            let newestRun = runs.last.map { ($0.startedAt, $0.bytesStored) }
            var lastAdded = newest
            if let (t, b) = newestRun, t >= (mine.last?.date ?? .distantPast) { lastAdded = b }
            sources.append(Overview.Source(
                status: s, late: s.overdue,
                bytesAddedPerDay: days.map { Overview.DayBytes(day: $0, bytes: perDay[$0] ?? 0) },
                lastBytesAdded: lastAdded,
                dedupRatio: mine.isEmpty || stored == 0 ? nil : Double(logical) / Double(stored)))
        }

        var storage = Overview.Storage()
        if let snapshots, let repository {
            storage.snapshots = snapshots.count
            storage.logicalBytes = snapshots.reduce(0) { $0 + ($1.summary?.totalBytes ?? 0) }
            if (try? await repository.loadIndex()) != nil {
                storage.storedBytes = repository.allBlobLocations().reduce(0) { $0 + UInt64($1.entry.length) }
            }
            if let l = storage.logicalBytes, let st = storage.storedBytes, st > 0 { storage.dedupRatio = Double(l) / Double(st) }
            // Growth: what every host's snapshots (and runs whose snapshots are gone) stored lately.
            let since = now.addingTimeInterval(-Double(Overview.growthWindowDays) * 86_400)
            let recent = snapshots.filter { $0.date > since }
            let recentIDs = Set(recent.compactMap { $0.id?.hex })
            var added = recent.reduce(UInt64(0)) { $0 + ($1.summary?.bytesStored ?? 0) }
            added += records.filter { $0.success && $0.startedAt > since && !($0.snapshotID.map(recentIDs.contains) ?? false) }.reduce(0) { $0 + $1.bytesStored }
            let oldest = min(snapshots.first?.date ?? now, records.first?.startedAt ?? now)
            let window = max(1, min(Double(Overview.growthWindowDays), now.timeIntervalSince(oldest) / 86_400))
            storage.growthBytesPerDay = Double(added) / window
        }
        if let capacity = (try? StoreLocation(parsing: status.repository))?.capacity {
            storage.freeBytes = capacity.availableBytes
            storage.fileSystemBytes = capacity.totalBytes
            if let g = storage.growthBytesPerDay, g > 0 { storage.daysUntilFull = Double(capacity.availableBytes) / g }
        }
        return Overview(generatedAt: now, host: status.host, repository: status.repository, timeZone: status.timeZone,
                        running: status.running, healthy: status.healthy, problems: status.problems,
                        repositoryError: status.repositoryError, stateError: status.stateError, lastGC: status.lastGC,
                        storage: storage, sources: sources)
    }

    /// The run reports `kura run` stored in the repository (records of kind `run`), oldest first;
    /// unreadable ones are left out.
    static func runRecords(_ repository: Repository) async -> [RunReport] {
        let dec = JSONDecoder(); dec.dateDecodingStrategy = .iso8601
        return ((try? await repository.listRecords(kind: "run")) ?? []).compactMap { try? dec.decode(RunReport.self, from: Data($0.json)) }
    }
}

extension Overview {
    /// `yyyy-MM-dd` of `date` in `zone`.
    public static func dayKey(_ date: Date, zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// The `count` days ending with the day of `end`, oldest first.
    static func dayKeys(ending end: Date, count: Int, zone: TimeZone) -> [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let today = calendar.startOfDay(for: end)
        return (0..<count).reversed().compactMap { calendar.date(byAdding: .day, value: -$0, to: today) }.map { dayKey($0, zone: zone) }
    }
}
