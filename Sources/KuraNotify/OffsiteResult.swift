import Foundation

/// What one offsite target got in one `kura run` of a source: the copy of its new snapshots, the
/// target's own retention, and how far the target lags behind the repository afterwards.
public struct OffsiteResult: Sendable, Codable, Equatable {
    /// The target's name (`[[offsite]]` name, or its location when written directly in the source).
    public var target: String
    /// Whether the copy (and the target's `offsite-keep`) succeeded.
    public var success: Bool
    /// Snapshots copied in this run, and snapshots the target already held.
    public var snapshotsCopied = 0
    public var snapshotsSkipped = 0
    /// Plaintext bytes sent (only what the target lacked) and what they took there.
    public var bytesCopied: UInt64 = 0
    public var bytesStored: UInt64 = 0
    /// Snapshots `offsite-keep` kept and removed in the target (nil: no offsite-keep).
    public var retained: Int?
    public var removed: Int?
    /// The newest of this source's snapshots the target holds, and its time (nil: none yet).
    public var newestCopied: String?
    public var newestCopiedTime: Date?
    /// The source's snapshots in the repository that are newer than the newest in the target.
    public var behind = 0
    /// What went wrong.
    public var error: String?
    public var seconds: Double = 0

    public init(target: String, success: Bool) { self.target = target; self.success = success }

    /// One line: "s3: 1 copied (12.0 MB), 5 kept; newest 2026-12-04 02:00" / "s3: FAILED: …".
    public func line(_ zone: TimeZone) -> String {
        guard success else { return "FAILED: " + ReportFormat.firstLine(error ?? "unknown error") + (newestCopiedTime.map { "; newest copy there from \(ReportFormat.minute($0, zone))" } ?? "") }
        var parts = ["\(snapshotsCopied) copied (\(ReportFormat.bytes(bytesCopied)) sent)"]
        if let retained { parts.append("\(retained) kept" + ((removed ?? 0) > 0 ? ", \(removed!) removed" : "")) }
        if let t = newestCopiedTime { parts.append("newest \(ReportFormat.minute(t, zone))") }
        if behind > 0 { parts.append("\(behind) behind") }
        return parts.joined(separator: ", ")
    }
}
