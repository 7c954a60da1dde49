import Foundation
import KuraRepository

/// `kura copy`: copies snapshots from one repository to another, and only the blobs the target lacks.
///
/// Nothing is re-chunked: a blob's id is the SHA-256 of its plaintext in every repository, so each blob
/// is read from the source (decrypted, its hash checked), sealed with the target's key under the same id
/// and packed there. For each snapshot: its trees and data blobs the target's index lacks, then `flush`
/// (packs, then index), then the snapshot itself, the commit point, with the source snapshot's time,
/// host, paths and tags and `copiedFrom` set to the source snapshot's id, which makes a second copy skip it.
///
/// Killed midway, a copy leaves packs in the target that the repository indexed every few packs; the
/// next run finds those blobs in the target's index and does not store them again. It does not trust
/// that index blindly: one LIST of the target's packs first, and blobs of packs the target lost are
/// sent again.
///
/// Writes only new objects into the target (packs, index files, snapshots, all named by their content)
/// and deletes nothing but its own lock objects: credentials that may create and read objects, and
/// delete only under `locks/`, are enough.
///
/// Locks: a shared lock on the source (no gc may delete what is read) and a shared lock on the target
/// (a gc there must not delete what is stored before the snapshot refers to it), both through
/// `Repository.withLock`.
public struct Copier: Sendable {
    public let source: Repository
    public let target: Repository
    public let options: CopyOptions
    /// Told of each snapshot as it is copied or skipped, and of warnings.
    let progress: (@Sendable (String) -> Void)?

    public init(source: Repository, target: Repository, options: CopyOptions, progress: (@Sendable (String) -> Void)? = nil) {
        self.source = source
        self.target = target
        self.options = options
        self.progress = progress
    }

    /// The warning for a target whose chunker differs from the source's, or nil when they match.
    public var chunkerWarning: String? {
        guard source.config.chunker != target.config.chunker || source.chunkerSecret != target.chunkerSecret else { return nil }
        let what = source.config.chunker != target.config.chunker ? "chunker parameters" : "chunker secret"
        return "the target's \(what) differ\(what.hasSuffix("s") ? "" : "s") from the source's: the copied snapshots are complete and restore correctly "
            + "(blobs are copied as they are, never re-cut), but later backups made directly into the target will not deduplicate against the copied data. "
            + "To avoid this, create the target with `kura init --copy-chunker-params-from SOURCE`."
    }

    /// Copies the selected snapshots, then checks the copies in the target. Throws `.invalidArgument` when
    /// source and target are the same repository, `.locked` when either is locked against it, `.corrupt`
    /// when a source blob is damaged (nothing of the snapshot it belongs to is committed) or when the check
    /// at the end finds a copied snapshot incomplete.
    public func run() async throws -> CopyReport {
        var report = CopyReport(sourceLocation: source.store.location, targetLocation: target.store.location)
        guard source.config.id != target.config.id else {
            throw KuraError(.invalidArgument, "the target \(target.store.location) is the source repository itself (same repository id)",
                            hint: "give --to another repository; nothing was copied")
        }
        if let warning = chunkerWarning {
            report.chunkerDiffers = true
            report.warnings.append(warning)
            progress?("warning: " + warning)
        }
        let initial = report
        return try await source.withLock(.shared) { _ in
            try await target.withLock(.shared) { _ in
                var report = initial
                let selected = try await select()
                // The target's index must not vouch for packs its storage lost (one LIST of its
                // packs): the blobs in them are copied again instead of being skipped.
                let lost = try await target.dropPacksMissingFromStorage()
                if !lost.isEmpty {
                    let warning = "the target's index listed \(lost.count) pack(s) its storage no longer holds; they were dropped from its index, and their blobs are copied again"
                    report.warnings.append(warning)
                    progress?("warning: " + warning)
                }
                let existing = try await target.listSnapshots()
                // A source snapshot is already in the target when a target snapshot records it as its
                // origin, or when the source snapshot is itself a copy of one of the target's snapshots.
                var copies: [String: String] = [:]
                for s in existing { if let from = s.copiedFrom, let id = s.id { copies[from] = id.hex } }
                let targetIDs = Set(existing.compactMap { $0.id?.hex })
                var visitedTrees = Set<BlobID>()
                var copied: [BlobID] = []
                for snapshot in selected {
                    guard let sourceID = snapshot.id else { continue }
                    var item = CopyReport.Item(source: sourceID.hex, target: nil, status: "skipped", time: snapshot.time,
                                               host: snapshot.host, paths: snapshot.paths)
                    if let earlier = copies[sourceID.hex] {
                        item.target = earlier
                    } else if let origin = snapshot.copiedFrom, targetIDs.contains(origin) || copies[origin] != nil {
                        item.target = targetIDs.contains(origin) ? origin : copies[origin]
                    } else {
                        try await copyBlobs(of: snapshot, into: &item, visitedTrees: &visitedTrees)
                        // Packs, then their index: everything the snapshot refers to is durable and indexed.
                        try await target.flush()
                        var copy = snapshot
                        copy.id = nil
                        copy.copiedFrom = sourceID.hex
                        // The parent names a snapshot of the source; the target's own backups find theirs.
                        copy.parent = nil
                        // The commit point.
                        let saved = try await target.saveSnapshot(copy)
                        item.status = "copied"
                        item.target = saved.id?.hex
                        if let id = saved.id { copied.append(id); copies[sourceID.hex] = id.hex }
                    }
                    progress?("\(item.status) \(sourceID.short) \(snapshot.time.prefix(19)) \(snapshot.host) \(snapshot.paths.joined(separator: " "))"
                              + (item.status == "copied" ? " → \(item.target?.prefix(8) ?? ""): \(item.blobsCopied) new blobs, \(item.bytesCopied) bytes" : " (already in the target as \(item.target?.prefix(8) ?? "?"))"))
                    report.snapshots.append(item)
                }
                report.verification = try await verify(copied)
                return report
            }
        }
    }

    /// The source snapshots the options select, oldest first.
    func select() async throws -> [Snapshot] {
        var chosen: [Snapshot]
        if options.snapshots.isEmpty {
            chosen = try await source.listSnapshots { id, error in
                self.progress?("warning: source snapshot \(id.short) is damaged and is not copied: \(error.message)")
            }
        } else {
            var seen = Set<BlobID>()
            chosen = []
            for reference in options.snapshots {
                let s = try await source.findSnapshot(reference)
                if let id = s.id, seen.insert(id).inserted { chosen.append(s) }
            }
            chosen.sort { ($0.date, $0.id?.hex ?? "") < ($1.date, $1.id?.hex ?? "") }
        }
        var required = options.tags
        if let name = options.sourceName { required.append(CopyOptions.tag(forSource: name)) }
        return chosen.filter { s in required.allSatisfy { s.tags.contains($0) } && (options.hosts.isEmpty || options.hosts.contains(s.host)) }
    }

    /// One blob to store in the target; a tree arrives with its plaintext (already read to walk it).
    private struct Work: Sendable {
        var type: BlobType
        var id: BlobID
        var plaintext: [UInt8]?
    }

    /// Walks the snapshot's trees in the source and stores every tree and data blob the target lacks.
    private func copyBlobs(of snapshot: Snapshot, into item: inout CopyReport.Item, visitedTrees: inout Set<BlobID>) async throws {
        guard let root = snapshot.treeID else {
            throw KuraError(.corrupt, "source snapshot \(snapshot.id?.short ?? "?") has no valid root tree id", hint: "run `kura check` on the source; nothing of it was copied")
        }
        var blobs = 0
        var plain: UInt64 = 0
        var stored: UInt64 = 0
        let limit = max(1, options.parallelism)
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            var inFlight = 0
            var queued = Set<BlobID>()
            var stack = [root]
            var pending: [Work] = []
            while true {
                // Keep at most `limit` blobs in flight; walk more trees when there is room.
                while inFlight < limit, let work = pending.popLast() {
                    group.addTask { try await self.store(work) }
                    inFlight += 1
                }
                if inFlight >= limit || (pending.isEmpty && stack.isEmpty && inFlight > 0) {
                    guard let (p, s) = try await group.next() else { break }
                    inFlight -= 1
                    if s > 0 || p > 0 { blobs += 1; plain += UInt64(p); stored += UInt64(s) }
                    continue
                }
                guard let treeID = stack.popLast() else { break }
                guard visitedTrees.insert(treeID).inserted else { continue }
                // Read with the hash check: a damaged source is refused, never propagated to the copy.
                let bytes = try await source.loadBlob(treeID, verifyHash: true)
                let tree = try Tree(decoding: bytes, id: treeID)
                for node in tree.nodes {
                    for extent in node.content {
                        if let id = extent.id, !target.contains(id), queued.insert(id).inserted { pending.append(Work(type: .data, id: id)) }
                    }
                    if let subtree = node.subtree { stack.append(subtree) }
                }
                if !target.contains(treeID), queued.insert(treeID).inserted { pending.append(Work(type: .tree, id: treeID, plaintext: bytes)) }
            }
        }
        item.blobsCopied += blobs
        item.bytesCopied += plain
        item.bytesStored += stored
    }

    /// Stores one blob in the target unless it has it (or another task is storing it); returns its
    /// plaintext and stored sizes, (0, 0) when nothing was stored.
    private func store(_ work: Work) async throws -> (Int, Int) {
        guard target.claim(work.id) else { return (0, 0) }
        let plaintext: [UInt8]
        if let p = work.plaintext { plaintext = p } else { plaintext = try await source.loadBlob(work.id, verifyHash: true) }
        let sealed = try plaintext.withUnsafeBytes { try target.sealBlob(work.type, id: work.id, plaintext: $0) }
        let stored = try await target.addToPack(sealed)
        return (plaintext.count, stored)
    }

    /// The check at the end: each copied snapshot is read back from the target; every tree and data blob
    /// it references must be in the target's stored index files (not the in-memory index of this run),
    /// and trees are read and decoded from the target. With `verifyData`, every data blob is also read
    /// back and its SHA-256 recomputed.
    func verify(_ copied: [BlobID]) async throws -> CopyReport.Verification {
        var result = CopyReport.Verification()
        result.readData = options.verifyData
        guard !copied.isEmpty else { return result }
        let files = try await target.loadIndexFiles()
        let superseded = Set(files.flatMap { $0.file.supersedes })
        var indexed = Set<BlobID>()
        for (id, file) in files where !superseded.contains(id) {
            for pack in file.packs { for e in pack.entries { indexed.insert(e.id) } }
        }
        var missing: [String] = []
        var visited = Set<BlobID>()
        var dataBlobs = Set<BlobID>()
        for snapshotID in copied {
            let snapshot = try await target.loadSnapshot(snapshotID)
            result.snapshots += 1
            guard let root = snapshot.treeID else { missing.append("snapshot \(snapshotID.short): no root tree"); continue }
            var stack = [root]
            while let treeID = stack.popLast() {
                guard visited.insert(treeID).inserted else { continue }
                guard indexed.contains(treeID) else { missing.append("tree \(treeID.short) of snapshot \(snapshotID.short)"); continue }
                let tree = try Tree(decoding: try await target.loadBlob(treeID, verifyHash: true), id: treeID)
                result.trees += 1
                for node in tree.nodes {
                    for extent in node.content {
                        guard let id = extent.id, dataBlobs.insert(id).inserted else { continue }
                        if !indexed.contains(id) { missing.append("data blob \(id.short) of snapshot \(snapshotID.short)") }
                    }
                    if let subtree = node.subtree { stack.append(subtree) }
                }
            }
        }
        if !missing.isEmpty {
            throw KuraError(.corrupt, "the copy in \(target.store.location) is incomplete: \(missing.count) blob(s) its copied snapshots refer to are not in its index (\(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? ", …" : ""))",
                            hint: "run `kura check` on the target; the source is unchanged, and running the copy again stores what is missing")
        }
        result.dataBlobs = dataBlobs.count
        if options.verifyData {
            let ids = Array(dataBlobs)
            let limit = max(1, options.parallelism)
            try await withThrowingTaskGroup(of: Int.self) { group in
                var next = 0
                while next < ids.count, next < limit {
                    let id = ids[next]; next += 1
                    group.addTask { try await self.target.loadBlob(id, verifyHash: true).count }
                }
                while let n = try await group.next() {
                    result.blobsRead += 1
                    result.bytesRead += UInt64(n)
                    if next < ids.count {
                        let id = ids[next]; next += 1
                        group.addTask { try await self.target.loadBlob(id, verifyHash: true).count }
                    }
                }
            }
        }
        return result
    }
}
