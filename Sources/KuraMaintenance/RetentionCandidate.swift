import Foundation

/// One snapshot as the retention engine sees it.
public struct RetentionCandidate: Sendable, Hashable {
    /// The snapshot's identifier; the engine only passes it through.
    public var id: String
    /// When the snapshot was taken.
    public var time: Date
    /// The snapshot's tags, for `--keep-tag`.
    public var tags: [String]
    /// The UTC offset (seconds east) the time was recorded with, e.g. 7200 for `…+02:00`, or `nil` if unknown.
    ///
    /// restic buckets a snapshot by the wall clock of the offset stored in the snapshot, not by the zone in
    /// which `forget` runs, and does its `--keep-within` calendar steps in the newest snapshot's zone. With an
    /// offset given, the engine does the same: an offset equal to the calendar zone's at that instant means
    /// that zone (with its daylight-saving rules), another offset is a fixed zone, and 0 is UTC (a stored
    /// zero offset is written `Z`, which Go reads as UTC even when the local zone is at UTC+0). `nil` means
    /// the calendar's zone.
    public var utcOffset: Int?

    /// A candidate; `utcOffset` as described at ``utcOffset``.
    public init(id: String, time: Date, tags: [String] = [], utcOffset: Int? = nil) {
        self.id = id
        self.time = time
        self.tags = tags
        self.utcOffset = utcOffset
    }

    /// The UTC offset at the end of an RFC 3339 timestamp such as a snapshot's stored `time`, for ``utcOffset``:
    /// `…+02:00` is 7200, `…-04:30` is -16200, `…Z` is 0; `nil` if the text does not end in an offset.
    public static func utcOffset(ofTimestamp text: String) -> Int? {
        if text.hasSuffix("Z") || text.hasSuffix("z") { return 0 }
        let tail = Array(text.unicodeScalars.suffix(6))
        guard tail.count == 6, tail[0] == "+" || tail[0] == "-", tail[3] == ":" else { return nil }
        let digits = [tail[1], tail[2], tail[4], tail[5]].map { scalar -> Int? in
            ("0"..."9").contains(scalar) ? Int(scalar.value) - 48 : nil
        }
        guard digits.allSatisfy({ $0 != nil }) else { return nil }
        let d = digits.map { $0! }
        let seconds = (d[0] * 10 + d[1]) * 3_600 + (d[2] * 10 + d[3]) * 60
        return tail[0] == "-" ? -seconds : seconds
    }

    /// restic's `Snapshot.HasTags`: whether the snapshot carries every tag of `list`, with restic's special
    /// case that an empty tag matches an untagged snapshot (checked in list order, so `["", "x"]` matches
    /// every untagged snapshot) and an empty list matches every snapshot.
    public func hasTags(_ list: [String]) -> Bool {
        for tag in list {
            if tag.isEmpty && tags.isEmpty { return true }
            if !tags.contains(tag) { return false }
        }
        return true
    }

    /// The zone restic's parsed snapshot time would carry, given the local zone.
    func zone(local: TimeZone) -> RetentionClock.Zone {
        guard let utcOffset else { return .named(local) }
        if utcOffset == 0 { return .fixed(0) }
        if local.secondsFromGMT(for: time) == utcOffset { return .named(local) }
        return .fixed(utcOffset)
    }
}
