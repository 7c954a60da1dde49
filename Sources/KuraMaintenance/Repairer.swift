import Foundation
import KuraRepository
import KuraStore
import Synchronization

/// What a repair did.
public struct RepairReport: Sendable, Codable {
    public var packsRead = 0
    public var packsUnreadable: [String] = []
    public var blobsIndexed = 0
    public var indexFilesReplaced = 0
    /// For `repair snapshots`: old short id → new short id, and the paths removed from it.
    public var rewritten: [String: String] = [:]
    public var removedPaths: [String] = []
    /// For `repair snapshots`: packs the index listed but the storage no longer holds, dropped from the index first.
    public var missingPacksDropped = 0
    public init() {}
}

/// `kura repair index` and `kura repair snapshots`.
public final class Repairer: Sendable {
    public let repository: Repository
    let progress: (@Sendable (String) -> Void)?
    private let damaged = Mutex(Set<BlobID>())

    public init(repository: Repository, progress: (@Sendable (String) -> Void)? = nil) {
        self.repository = repository
        self.progress = progress
    }

    /// Rebuilds the index from the pack headers alone: one new index file that supersedes every
    /// existing one (readable or not), which are then deleted. Packs whose header cannot be read are
    /// reported and left alone.
    public func repairIndex() async throws -> RepairReport {
        try await repository.withLock(.exclusive) { scope in try await repairIndexLocked(scope) }
    }

    private func repairIndexLocked(_ scope: LockScope) async throws -> RepairReport {
        var report = RepairReport()
        let store = scope.store
        let packs = try await store.list(prefix: "data/")
        var entries: [(id: BlobID, entries: [PackEntry])] = []
        for (i, info) in packs.enumerated() {
            guard let id = BlobID(hex: String(info.key.split(separator: "/").last ?? "")) else { continue }
            if i % 50 == 0 { progress?("reading pack headers \(i + 1)/\(packs.count)") }
            do {
                let header = try await repository.readPackHeader(id, size: info.size)
                entries.append((id, header))
                report.packsRead += 1
                report.blobsIndexed += header.count
            } catch {
                report.packsUnreadable.append("\(info.key): \(error)")
            }
        }
        let old = try await store.list(prefix: "index/").compactMap { BlobID(hex: String($0.key.dropFirst("index/".count))) }
        try await repository.writeIndexFile(IndexFile(packs: entries, supersedes: old))
        for id in old { try? await store.delete("index/\(id.hex)") }
        // The new index lists only packs that exist: check's missing-pack markers are done with.
        try await repository.clearMissingPacksMarkers(scope)
        report.indexFilesReplaced = old.count
        return report
    }

    /// Rewrites every snapshot that refers to missing or damaged data: unreadable folders and files with
    /// missing chunks are left out, the new snapshot is saved with the tag `repaired` and the old one's id
    /// as parent, and (with `forgetOriginals`) the damaged original is removed. Never silent: every
    /// removed path is reported.
    /// `damaged` adds blobs known to be damaged (from `check --read-data`) to those missing from the index.
    public func repairSnapshots(forgetOriginals: Bool, damaged: Set<BlobID> = []) async throws -> RepairReport {
        try await repository.withLock(.exclusive) { scope in try await repairSnapshotsLocked(scope, forgetOriginals: forgetOriginals, damaged: damaged) }
    }

    private func repairSnapshotsLocked(_ scope: LockScope, forgetOriginals: Bool, damaged: Set<BlobID> = []) async throws -> RepairReport {
        var report = RepairReport()
        self.damaged.withLock { $0 = damaged }
        // First the index must stop vouching for lost packs; otherwise their chunks look readable.
        report.missingPacksDropped = try await repository.forgetMissingPacks().count
        try await repository.loadIndex()
        for snapshot in try await repository.listSnapshots() {
            guard let root = snapshot.treeID else { continue }
            var removed: [String] = []
            var kept = Snapshot.Summary()
            var droppedFolders = 0
            let newRoot = try await rewrite(root, path: [47], removed: &removed, kept: &kept, droppedFolders: &droppedFolders)
            guard !removed.isEmpty else { continue }
            var fixed = snapshot
            fixed.id = nil
            let emptyTree: BlobID? = newRoot == nil ? try await repository.saveTree(Tree(nodes: [])).id : nil
            fixed.tree = (newRoot ?? emptyTree!).hex
            fixed.tags = Array(Set(snapshot.tags + ["repaired"])).sorted()
            fixed.parent = snapshot.id?.hex
            fixed.incomplete = true
            // The sizes must describe what the new snapshot holds, not the original (listings, stats and
            // status show them). The repair stored no new data, so nothing was added.
            kept.durationSeconds = 0
            // Folders: the archiver does not count the synthetic folders above the backed-up paths, which
            // the walk does; so the original's count, less the folders dropped (an unreadable folder counts
            // as one: what was inside it cannot be known).
            if let original = snapshot.summary { kept.directories = max(0, original.directories - droppedFolders) }
            fixed.summary = kept
            fixed.errors += removed.map { Snapshot.ReadError(path: $0, message: "removed by `kura repair snapshots`: its data was missing or damaged") }
            try await repository.flush()
            let saved = try await repository.saveSnapshot(fixed)
            report.rewritten[snapshot.id?.short ?? ""] = saved.id?.short ?? ""
            report.removedPaths += removed.map { "\(snapshot.id?.short ?? "") \($0)" }
            if forgetOriginals, let id = snapshot.id { try? await scope.store.delete("snapshots/\(id.hex)") }
        }
        return report
    }

    /// A copy of the tree without entries whose data is unreadable; nil when the tree itself is. `kept`
    /// counts what stays (files, folders, other entries, logical bytes), as the archiver counts a backup.
    private func rewrite(_ id: BlobID, path: [UInt8], removed: inout [String], kept: inout Snapshot.Summary,
                         droppedFolders: inout Int) async throws -> BlobID? {
        let tree: Tree
        do { tree = try await repository.loadTree(id) } catch { removed.append(PathBytes.display(path)); return nil }
        var changed = false
        var nodes: [Node] = []
        for var n in tree.nodes {
            let p = path == [47] ? [47] + n.name : path + [47] + n.name
            switch n.type {
            case .file:
                if n.content.contains(where: { e in e.id.map { !blobIsReadable($0) } ?? false }) {
                    removed.append(PathBytes.display(p)); changed = true; continue
                }
                kept.files += 1; kept.totalBytes += n.size
            case .directory:
                guard let sub = n.subtree, let newSub = try await rewrite(sub, path: p, removed: &removed, kept: &kept, droppedFolders: &droppedFolders) else {
                    droppedFolders += 1; changed = true; continue
                }
                if newSub != sub { n.subtree = newSub; changed = true }
                kept.directories += 1
            default: kept.otherEntries += 1
            }
            nodes.append(n)
        }
        guard changed else { return id }
        return try await repository.saveTree(Tree(nodes: nodes)).id
    }

    private func blobIsReadable(_ id: BlobID) -> Bool {
        repository.location(of: id) != nil && !damaged.withLock { $0.contains(id) }
    }
}
