import Foundation

/// What happened to one source in one `kura run`: the facts a success or failure report is made of.
///
/// A success report shows the snapshot, sizes, dedup ratio, duration, check result and retention; a
/// failure report shows the error, the log tail, what is still safe (the last good snapshot) and the
/// recommended next step. Fields that do not apply stay at their defaults and are left out of the report.
public struct RunReport: Sendable, Codable, Equatable {
    /// The source's name in the configuration file.
    public var source: String
    /// The kind of source: "directory", "docker-volume", "postgres" or "command".
    public var kind: String
    /// Whether the source's backup (and its forget/gc/check steps) succeeded.
    public var success: Bool
    /// When the source's run started.
    public var startedAt: Date
    /// How long the source's run took, in seconds.
    public var durationSeconds: Double
    /// The host the backup ran on.
    public var host: String
    /// The repository location (path or URL), never a password: pass it through
    /// ``Redaction/location(_:)`` when it may hold credentials.
    public var repository: String
    /// The new snapshot's short id, when one was saved.
    public var snapshotID: String?
    /// Files in the snapshot.
    public var files: Int
    /// Bytes of data in the snapshot (before deduplication and compression).
    public var logicalBytes: UInt64
    /// Bytes of new, not yet stored data this run added (after deduplication, before compression).
    public var bytesAdded: UInt64
    /// Bytes this run added to the repository's storage (compressed and encrypted).
    public var bytesStored: UInt64
    /// `logicalBytes / bytesAdded`, or 0 when nothing new was added (shown as "no new data").
    public var dedupRatio: Double
    /// The integrity check's result, e.g. "ok (read 1/7 of the data)" or "FAILED: …"; nil when no check ran.
    public var checkResult: String?
    /// The verify-restore result; nil when none ran.
    public var verifyResult: String?
    /// How many snapshots of this source the retention policy kept; nil when forget did not run.
    public var snapshotsRetained: Int?
    /// Things that did not fail the run but deserve a look (e.g. unreadable files).
    public var warnings: [String]
    /// What broke (for a failed run).
    public var error: String?
    /// The last lines (about 30) logged during this source's run.
    public var logTail: [String]
    /// The short id of the last good snapshot of this source: what is still safe.
    public var lastGoodSnapshot: String?
    /// When the last good snapshot was taken.
    public var lastGoodTime: Date?
    /// The recommended next step (for a failed run).
    public var nextStep: String?
    /// The offsite copies made after the backup (one per target; empty when the source has none).
    public var offsite: [OffsiteResult] = []

    /// A report with the required facts; the counters start at zero and the optional parts empty.
    public init(source: String, kind: String, success: Bool, startedAt: Date, host: String, repository: String) {
        self.source = source
        self.kind = kind
        self.success = success
        self.startedAt = startedAt
        self.durationSeconds = 0
        self.host = host
        self.repository = repository
        self.snapshotID = nil
        self.files = 0
        self.logicalBytes = 0
        self.bytesAdded = 0
        self.bytesStored = 0
        self.dedupRatio = 0
        self.checkResult = nil
        self.verifyResult = nil
        self.snapshotsRetained = nil
        self.warnings = []
        self.error = nil
        self.logTail = []
        self.lastGoodSnapshot = nil
        self.lastGoodTime = nil
        self.nextStep = nil
        self.offsite = []
    }

    enum CodingKeys: String, CodingKey {
        case source, kind, success, startedAt, durationSeconds, host, repository, snapshotID, files, logicalBytes, bytesAdded, bytesStored,
             dedupRatio, checkResult, verifyResult, snapshotsRetained, warnings, error, logTail, lastGoodSnapshot, lastGoodTime, nextStep, offsite
    }

    /// Decodes reports stored before a field existed (run records in older repositories) with its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(String.self, forKey: .source)
        kind = try c.decode(String.self, forKey: .kind)
        success = try c.decode(Bool.self, forKey: .success)
        startedAt = try c.decode(Date.self, forKey: .startedAt)
        durationSeconds = try c.decode(Double.self, forKey: .durationSeconds)
        host = try c.decode(String.self, forKey: .host)
        repository = try c.decode(String.self, forKey: .repository)
        snapshotID = try c.decodeIfPresent(String.self, forKey: .snapshotID)
        files = try c.decode(Int.self, forKey: .files)
        logicalBytes = try c.decode(UInt64.self, forKey: .logicalBytes)
        bytesAdded = try c.decode(UInt64.self, forKey: .bytesAdded)
        bytesStored = try c.decode(UInt64.self, forKey: .bytesStored)
        dedupRatio = try c.decode(Double.self, forKey: .dedupRatio)
        checkResult = try c.decodeIfPresent(String.self, forKey: .checkResult)
        verifyResult = try c.decodeIfPresent(String.self, forKey: .verifyResult)
        snapshotsRetained = try c.decodeIfPresent(Int.self, forKey: .snapshotsRetained)
        warnings = try c.decodeIfPresent([String].self, forKey: .warnings) ?? []
        error = try c.decodeIfPresent(String.self, forKey: .error)
        logTail = try c.decodeIfPresent([String].self, forKey: .logTail) ?? []
        lastGoodSnapshot = try c.decodeIfPresent(String.self, forKey: .lastGoodSnapshot)
        lastGoodTime = try c.decodeIfPresent(Date.self, forKey: .lastGoodTime)
        nextStep = try c.decodeIfPresent(String.self, forKey: .nextStep)
        offsite = try c.decodeIfPresent([OffsiteResult].self, forKey: .offsite) ?? []
    }
}
