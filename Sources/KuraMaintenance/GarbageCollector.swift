import Foundation
import KuraRepository
import KuraStore
import Synchronization

/// Options of `kura gc`.
public struct GCOptions: Sendable {
    /// Unused space allowed to remain in partly used packs, as a fraction of the repository (0.05 = 5 %).
    public var maxUnused = 0.05
    /// Compute and report, change nothing.
    public var dryRun = false
    public init() {}
}

/// What `kura gc` did (or would do, with `dryRun`).
public struct GCReport: Sendable, Codable {
    public var snapshots = 0
    public var packsBefore = 0
    public var packsDeleted = 0
    public var packsRepacked = 0
    public var packsWritten = 0
    /// Packs in no index (left by an interrupted backup or gc), deleted.
    public var orphanPacksDeleted = 0
    public var blobsUsed = 0
    public var blobsRemoved = 0
    public var bytesBefore: UInt64 = 0
    public var bytesAfter: UInt64 = 0
    public var bytesFreed: UInt64 { bytesBefore > bytesAfter ? bytesBefore - bytesAfter : 0 }
    public var indexFilesReplaced = 0
    public var dryRun = false
    /// True when the storage was full and gc deleted before writing (see `GarbageCollector`).
    public var fullStorageMode = false

    enum CodingKeys: String, CodingKey {
        case snapshots, packsBefore, packsDeleted, packsRepacked, packsWritten, orphanPacksDeleted, blobsUsed, blobsRemoved,
             bytesBefore, bytesAfter, indexFilesReplaced, dryRun, bytesFreed, fullStorageMode
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(snapshots, forKey: .snapshots); try c.encode(packsBefore, forKey: .packsBefore)
        try c.encode(packsDeleted, forKey: .packsDeleted); try c.encode(packsRepacked, forKey: .packsRepacked)
        try c.encode(packsWritten, forKey: .packsWritten); try c.encode(orphanPacksDeleted, forKey: .orphanPacksDeleted)
        try c.encode(blobsUsed, forKey: .blobsUsed); try c.encode(blobsRemoved, forKey: .blobsRemoved)
        try c.encode(bytesBefore, forKey: .bytesBefore); try c.encode(bytesAfter, forKey: .bytesAfter)
        try c.encode(bytesFreed, forKey: .bytesFreed); try c.encode(indexFilesReplaced, forKey: .indexFilesReplaced)
        try c.encode(dryRun, forKey: .dryRun); try c.encode(fullStorageMode, forKey: .fullStorageMode)
    }
    public init() {}
    public init(from decoder: any Decoder) throws { self.init() }
}

/// `kura gc`: mark every blob reachable from a snapshot, delete packs nobody needs, repack partly used
/// packs until the unused space is under the limit, and replace the index.
///
/// Crash-safe at every step: new packs first, then one new index file that supersedes all old ones,
/// then deletion of old index files and packs. A crash before the new index leaves only unindexed new
/// packs (the next gc deletes them); a crash after it leaves superseded index files and unreferenced
/// packs (the next gc deletes them). It holds the exclusive lock throughout and refuses to delete
/// anything if a snapshot's tree cannot be read.
public struct GarbageCollector: Sendable {
    public let repository: Repository
    public let options: GCOptions
    let progress: (@Sendable (String) -> Void)?

    public init(repository: Repository, options: GCOptions, progress: (@Sendable (String) -> Void)? = nil) {
        self.repository = repository
        self.options = options
        self.progress = progress
    }

    /// Runs under the exclusive lock (a dry run under a shared one: it only reads).
    public func run() async throws -> GCReport {
        try await repository.withLock(options.dryRun ? .shared : .exclusive) { scope in try await run(scope) }
    }

    private func run(_ scope: LockScope) async throws -> GCReport {
        var report = GCReport()
        report.dryRun = options.dryRun
        let store = scope.store

        // The index as the files say (never a cache).
        let files = try await repository.loadIndexFiles()
        let superseded = Set(files.flatMap { $0.file.supersedes })
        let live = files.filter { !superseded.contains($0.id) }
        var packEntries: [BlobID: [PackEntry]] = [:]
        var home: [BlobID: BlobID] = [:]   // blob → the pack that serves it
        for f in live { for p in f.file.packs { packEntries[p.id, default: []].append(contentsOf: p.entries) } }
        for (pack, entries) in packEntries.sorted(by: { $0.key < $1.key }) { for e in entries where home[e.id] == nil { home[e.id] = pack } }

        let listing = try await store.list(prefix: "data/")
        var sizes: [BlobID: Int] = [:]
        for p in listing { if let id = BlobID(hex: String(p.key.split(separator: "/").last ?? "")) { sizes[id] = p.size } }
        report.packsBefore = sizes.count
        report.bytesBefore = sizes.values.reduce(0) { $0 + UInt64($1) }

        // Mark.
        progress?("marking blobs used by snapshots")
        // Every snapshot must be readable: the data of one that cannot be read would look unused.
        let unreadable = Mutex<[(BlobID, KuraError)]>([])
        let snapshots = try await repository.listSnapshots(damaged: { id, e in unreadable.withLock { $0.append((id, e)) } })
        if let (id, e) = unreadable.withLock({ $0.sorted { $0.0 < $1.0 }.first }) {
            let all = unreadable.withLock { $0.map(\.0.short) }.sorted().joined(separator: ", ")
            throw KuraError(.corrupt, "gc stopped, nothing was deleted: snapshot \(all) cannot be read (\(e.message)); the data it refers to would look unused",
                            hint: "restore snapshots/\(id.hex) from a copy of the repository, or, if it is lost for good, `kura forget \(id.short)` (then gc); `kura check` shows what else is damaged")
        }
        report.snapshots = snapshots.count
        var used = Set<BlobID>()
        for s in snapshots {
            guard let root = s.treeID else { throw KuraError(.corrupt, "snapshot \(s.id?.short ?? "") has no valid tree id; gc stopped, nothing was deleted") }
            try await mark(root, into: &used, snapshot: s)
        }
        for id in used where home[id] == nil {
            throw KuraError(.corrupt, "blob \(id.short) is used by a snapshot but is in no index; gc stopped, nothing was deleted",
                            hint: "run `kura check`, then `kura repair index` (or `kura repair snapshots`)")
        }
        report.blobsUsed = used.count

        // Sweep plan.
        var deletePacks: [BlobID] = []
        var partial: [(pack: BlobID, unused: Int, size: Int)] = []
        var unusedTotal = 0
        for (pack, entries) in packEntries {
            guard let size = sizes[pack] else { continue }
            let usedBytes = entries.filter { used.contains($0.id) && home[$0.id] == pack }.reduce(0) { $0 + Int($1.length) }
            if usedBytes == 0 { deletePacks.append(pack); continue }
            let unused = entries.filter { !(used.contains($0.id) && home[$0.id] == pack) }.reduce(0) { $0 + Int($1.length) }
            if unused > 0 { partial.append((pack, unused, size)); unusedTotal += unused }
        }
        let orphans = sizes.keys.filter { packEntries[$0] == nil }
        report.blobsRemoved = home.keys.filter { !used.contains($0) }.count
        let keptSize = sizes.filter { !deletePacks.contains($0.key) && packEntries[$0.key] != nil }.values.reduce(0, +)
        partial.sort { Double($0.unused) / Double($0.size) > Double($1.unused) / Double($1.size) }
        var repack: [BlobID] = []
        var remainingUnused = unusedTotal
        for p in partial where Double(remainingUnused) > options.maxUnused * Double(max(1, keptSize - (unusedTotal - remainingUnused))) {
            repack.append(p.pack)
            remainingUnused -= p.unused
        }
        report.packsDeleted = deletePacks.count
        report.packsRepacked = repack.count
        report.orphanPacksDeleted = orphans.count
        let repackSet = Set(repack), deleteSet = Set(deletePacks)
        if options.dryRun {
            var repackUsed = 0
            for p in repack { for e in packEntries[p] ?? [] where used.contains(e.id) && home[e.id] == p { repackUsed += Int(e.length) } }
            var removed = 0
            for p in deletePacks + orphans + repack { removed += sizes[p] ?? 0 }
            report.bytesAfter = report.bytesBefore - UInt64(removed) + UInt64(repackUsed)
            return report
        }

        // Repack: copy the sealed bytes of used blobs into new packs (no re-encryption needed).
        let allIndexIDs = files.map(\.id)
        do {
            for (i, pack) in repack.enumerated() {
                progress?("repacking \(i + 1)/\(repack.count)")
                let bytes = try await repository.readVerified(Pack.key(pack))
                for e in packEntries[pack] ?? [] where used.contains(e.id) && home[e.id] == pack {
                    let sealed = Array(bytes[Int(e.offset)..<(Int(e.offset) + Int(e.length))])
                    try await repository.addToPack(SealedBlob(type: e.type, id: e.id, compressed: e.compressed, rawLength: Int(e.rawLength), sealed: sealed))
                }
            }
            let written = try await repository.flushPacks()
            report.packsWritten = written.count

            // One new index for everything that stays, superseding every index file there is.
            let keep = written + kept(packEntries, except: deleteSet.union(repackSet), sizes: sizes, used: used, home: home)
            let listsMissingPacks = packEntries.keys.contains { sizes[$0] == nil }
            if !deletePacks.isEmpty || !repack.isEmpty || !orphans.isEmpty || !superseded.isEmpty || files.count > 1 || listsMissingPacks {
                progress?("writing the new index")
                try await repository.writeIndexFile(IndexFile(packs: keep, supersedes: allIndexIDs))
                for id in allIndexIDs { try? await store.delete("index/\(id.hex)") }
                report.indexFilesReplaced = allIndexIDs.count
                // The new index lists only packs that exist: check's missing-pack markers are done with.
                try await repository.clearMissingPacksMarkers(scope)
            }
            // Only now, data that nothing refers to any more.
            progress?("deleting \(deletePacks.count + repack.count + orphans.count) packs")
            for pack in deletePacks + repack + orphans { try? await store.delete(Pack.key(pack)) }
        } catch let e as KuraError where e.code == .noSpace {
            // The storage is full: there is no room for the new index (or repacked packs) that normally
            // go first. Last resort, in an order that never lets the index name a deleted pack: delete
            // the index files (the next backup then cannot dedup against deleted data), delete the packs
            // nobody uses (and any pack this run wrote), then write the new index into the freed space.
            // A crash in between leaves packs without an index: `kura repair index` rebuilds it.
            report.fullStorageMode = true
            progress?("storage full: deleting unused data first")
            let keep = kept(packEntries, except: deleteSet, sizes: sizes, used: used, home: home)
            let keepIDs = Set(keep.map(\.id))
            for id in allIndexIDs { try? await store.delete("index/\(id.hex)") }
            for info in try await store.list(prefix: "data/") {
                guard let id = BlobID(hex: String(info.key.split(separator: "/").last ?? "")), !keepIDs.contains(id) else { continue }
                try? await store.delete(info.key)
            }
            do { try await repository.writeIndexFile(IndexFile(packs: keep)) } catch {
                throw KuraError(.noSpace, "gc freed unused packs but could not write the new index: \(error)",
                                hint: "free some space on the storage, then run `kura repair index`; no snapshot lost data")
            }
            report.indexFilesReplaced = allIndexIDs.count
            // With room again, a normal pass repacks what the full storage did not allow.
            if !repack.isEmpty, let second = try? await run(scope) {
                var merged = second
                merged.bytesBefore = report.bytesBefore
                merged.packsBefore = report.packsBefore
                merged.packsDeleted += report.packsDeleted
                merged.orphanPacksDeleted += report.orphanPacksDeleted
                merged.blobsRemoved += report.blobsRemoved
                merged.fullStorageMode = true
                return merged
            }
            report.packsRepacked = 0
        }

        let after = try await store.list(prefix: "data/")
        report.bytesAfter = after.reduce(0) { $0 + UInt64($1.size) }
        repository.pruneObjectCache()   // cached trees whose blobs gc removed
        return report
    }

    /// The packs that stay, each with the entries still worth indexing.
    private func kept(_ packEntries: [BlobID: [PackEntry]], except: Set<BlobID>, sizes: [BlobID: Int],
                      used: Set<BlobID>, home: [BlobID: BlobID]) -> [(id: BlobID, entries: [PackEntry])] {
        var out: [(id: BlobID, entries: [PackEntry])] = []
        for (pack, entries) in packEntries where !except.contains(pack) && sizes[pack] != nil {
            out.append((pack, entries.filter { used.contains($0.id) || home[$0.id] == pack }))
        }
        return out
    }

    private func mark(_ tree: BlobID, into used: inout Set<BlobID>, snapshot: Snapshot) async throws {
        guard used.insert(tree).inserted else { return }
        let t: Tree
        do { t = try await repository.loadTree(tree) } catch {
            throw KuraError(.corrupt, "tree \(tree.short) of snapshot \(snapshot.id?.short ?? "") cannot be read: \(error); gc stopped, nothing was deleted",
                            hint: "run `kura check`; `kura repair snapshots` can rewrite the damaged snapshot")
        }
        for n in t.nodes {
            if n.type == .file { for e in n.content { if let id = e.id { used.insert(id) } } }
            if n.type == .directory, let sub = n.subtree { try await mark(sub, into: &used, snapshot: snapshot) }
        }
    }
}
