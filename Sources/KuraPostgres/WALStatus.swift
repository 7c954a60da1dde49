import Foundation
import KuraRepository

/// The state of the archived WAL (`kura wal-status`).
public struct WALStatus: Sendable, Codable {
    /// Archived files (segments, partials, history and backup files).
    public var files = 0
    public var segments = 0
    public var storedBytes = 0
    /// The newest archived segment, when it was archived and how long ago (seconds).
    public var lastSegment: String?
    public var lastArchived: String?
    public var lastArchivedAgeSeconds: Double?
    /// Physical base backups in the repository, and the oldest one's first needed segment.
    public var baseBackups = 0
    public var oldestBaseSnapshot: String?
    public var oldestBaseStartWAL: String?
    /// Missing segments between the oldest base backup's start and the newest archived segment.
    public var gaps: [WALGap] = []
    /// True when point-in-time recovery from the oldest base backup to the newest segment is possible.
    public var continuous: Bool { gaps.isEmpty && oldestBaseStartWAL != nil }

    enum CodingKeys: String, CodingKey {
        case files, segments, storedBytes, lastSegment, lastArchived, lastArchivedAgeSeconds, baseBackups, oldestBaseSnapshot, oldestBaseStartWAL, gaps, continuous
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(files, forKey: .files); try c.encode(segments, forKey: .segments); try c.encode(storedBytes, forKey: .storedBytes)
        try c.encodeIfPresent(lastSegment, forKey: .lastSegment); try c.encodeIfPresent(lastArchived, forKey: .lastArchived)
        try c.encodeIfPresent(lastArchivedAgeSeconds, forKey: .lastArchivedAgeSeconds)
        try c.encode(baseBackups, forKey: .baseBackups); try c.encodeIfPresent(oldestBaseSnapshot, forKey: .oldestBaseSnapshot)
        try c.encodeIfPresent(oldestBaseStartWAL, forKey: .oldestBaseStartWAL); try c.encode(gaps, forKey: .gaps)
        try c.encode(continuous, forKey: .continuous)
    }

    public init() {}
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        files = try c.decode(Int.self, forKey: .files); segments = try c.decode(Int.self, forKey: .segments)
        storedBytes = try c.decode(Int.self, forKey: .storedBytes)
        lastSegment = try c.decodeIfPresent(String.self, forKey: .lastSegment); lastArchived = try c.decodeIfPresent(String.self, forKey: .lastArchived)
        lastArchivedAgeSeconds = try c.decodeIfPresent(Double.self, forKey: .lastArchivedAgeSeconds)
        baseBackups = try c.decode(Int.self, forKey: .baseBackups)
        oldestBaseSnapshot = try c.decodeIfPresent(String.self, forKey: .oldestBaseSnapshot)
        oldestBaseStartWAL = try c.decodeIfPresent(String.self, forKey: .oldestBaseStartWAL)
        gaps = try c.decode([WALGap].self, forKey: .gaps)
    }
}

/// Reads the WAL archive's state and applies WAL retention.
public struct WALInspector: Sendable {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    /// One listing of `wal/`, one ranged read of the newest segment's header, and the physical snapshots' manifests.
    public func status(now: Date = Date()) async throws -> WALStatus {
        var s = WALStatus()
        let files = try await repository.listWALFiles()
        s.files = files.count
        s.storedBytes = files.reduce(0) { $0 + $1.size }
        let segments = files.compactMap { WALSegment(name: $0.name) }
        s.segments = segments.count
        if let newest = segments.max() {
            s.lastSegment = newest.name
            if let h = try await repository.walHeader(name: newest.name) {
                s.lastArchived = h.archived
                s.lastArchivedAgeSeconds = Timestamp.parse(h.archived).map { max(0, now.timeIntervalSince($0)) }
            }
        }
        let bases = try await PointInTimeRestore(repository: repository).baseBackups()
        s.baseBackups = bases.count
        if let oldest = bases.first(where: { $0.manifest?.startWAL != nil }), let startName = oldest.manifest?.startWAL,
           let start = WALSegment(name: startName) {
            s.oldestBaseSnapshot = oldest.snapshot.id?.hex
            s.oldestBaseStartWAL = startName
            s.gaps = WALGaps.find(in: segments, from: start)
        }
        return s
    }

    /// The archived WAL files no kept base backup needs: segments (and partial/backup files) older
    /// than the first segment of the base backup that starts the kept window. The window starts at the
    /// newest base backup taken at or before `now - keepWAL` (so every moment of the window can be
    /// recovered), or at the oldest base backup without `keepWAL`. Timeline history files are always
    /// kept (they are tiny, and recovery to a later timeline reads them). Without any base backup that
    /// recorded its WAL start, nothing is deleted.
    public static func unneeded(files: [String], bases: [(date: Date, startWAL: String?)], keepWAL: TimeInterval?, now: Date) -> [String] {
        let known = bases.compactMap { b in b.startWAL.flatMap(WALSegment.init(name:)).map { (b.date, $0) } }.sorted { $0.0 < $1.0 }
        guard !known.isEmpty else { return [] }
        var cutoff = known[0].1
        if let keepWAL, let inWindow = known.last(where: { $0.0 <= now.addingTimeInterval(-keepWAL) }) { cutoff = inWindow.1 }
        return files.filter { name in
            guard !name.hasSuffix(".history"), let seg = WALSegment(name: String(name.prefix(24))) else { return false }
            return seg.number < cutoff.number
        }
    }

    /// Deletes the WAL that no kept base backup needs (see ``unneeded(files:bases:keepWAL:now:)``);
    /// returns the names (with `dryRun`, only says which). Takes the exclusive lock to delete.
    public func applyRetention(keepWAL: TimeInterval?, now: Date = Date(), dryRun: Bool = false) async throws -> [String] {
        let files = try await repository.listWALFiles().map(\.name)
        let bases = try await PointInTimeRestore(repository: repository).baseBackups().map { ($0.snapshot.date, $0.manifest?.startWAL) }
        let drop = WALInspector.unneeded(files: files, bases: bases, keepWAL: keepWAL, now: now)
        if !dryRun { try await repository.deleteWALFiles(drop) }
        return drop
    }
}
