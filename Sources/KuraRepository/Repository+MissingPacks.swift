import Foundation
import KuraStore

/// Packs the index lists but the storage no longer has (deleted by hand, lost with a disk, a bad
/// copy). As long as the index vouches for them, every backup dedups against their chunks and the
/// new snapshots are damaged too; so once they are known, the index must stop listing them.
extension Repository {
    /// A marker that `check` leaves when it finds missing packs (`records/missing-packs/…`): the next
    /// backup then rewrites the index without them before it dedups. `repair index` and gc, whose new
    /// indexes never list missing packs, remove the markers.
    static let missingPacksRecord = "missing-packs"

    /// Packs that index files (not superseded) list but `data/` does not hold.
    private func missingPacks(in files: [(id: BlobID, file: IndexFile)]) async throws -> Set<BlobID> {
        let superseded = Set(files.flatMap { $0.file.supersedes })
        let listed = Set(files.filter { !superseded.contains($0.id) }.flatMap { $0.file.packs.map(\.id) })
        let listing: [ObjectInfo]
        do { listing = try await store.list(prefix: "data/") } catch { throw Repository.storeError(error, doing: "listing the packs") }
        let present = Set(listing.compactMap { BlobID(hex: String($0.key.split(separator: "/").last ?? "")) })
        return listed.subtracting(present)
    }

    /// Under a held lock (shared is enough: nothing is deleted): when the index lists packs the storage
    /// does not hold, writes one index file that lists every other pack and supersedes the files it was
    /// read from, then reloads the index. Returns the missing packs (empty: nothing written). Index
    /// files written meanwhile by other backups are not superseded; the superseded files are removed
    /// by the next gc.
    @discardableResult
    public func forgetMissingPacks() async throws -> Set<BlobID> {
        let files = try await loadIndexFiles()
        let missing = try await missingPacks(in: files)
        guard !missing.isEmpty else { return [] }
        let superseded = Set(files.flatMap { $0.file.supersedes })
        let live = files.filter { !superseded.contains($0.id) }
        var packs: [(id: BlobID, entries: [PackEntry])] = []
        var seen = Set<BlobID>()
        for f in live { for p in f.file.packs where !missing.contains(p.id) && seen.insert(p.id).inserted { packs.append(p) } }
        _ = try await writeIndexFile(IndexFile(packs: packs, supersedes: live.map(\.id)))
        if forgetLoadedIndexIfIdle() { try await loadIndex() }
        return missing
    }

    /// Before a copy trusts a target's index (the target may have lost packs nobody checked for yet):
    /// one LIST of `data/` against the packs of the loaded index. When packs are missing, the index is
    /// rewritten without them as by ``forgetMissingPacks()`` (a new index file; nothing is deleted) and
    /// reloaded; returns them (empty: nothing written). Under a held lock.
    public func dropPacksMissingFromStorage() async throws -> Set<BlobID> {
        try await loadIndex()
        let indexed = Set(state.withLock { $0.index.packs })
        let listing: [ObjectInfo]
        do { listing = try await store.list(prefix: "data/") } catch { throw Repository.storeError(error, doing: "listing the packs") }
        let present = Set(listing.compactMap { BlobID(hex: String($0.key.split(separator: "/").last ?? "")) })
        guard !indexed.isSubset(of: present) else { return [] }
        return try await forgetMissingPacks()
    }

    /// Whether `check` left a missing-packs marker.
    func hasMissingPacksMarker() async throws -> Bool {
        do { return !(try await store.list(prefix: "records/\(Repository.missingPacksRecord)/")).isEmpty } catch {
            throw Repository.storeError(error, doing: "listing records")
        }
    }

    /// Before a backup dedups: with `force` (a `--force-reread` backup), or when `check` found missing
    /// packs, make sure the index vouches only for packs the storage holds. Returns what it dropped.
    public func verifyIndexBeforeBackup(force: Bool) async throws -> Set<BlobID> {
        let marked = force ? true : try await hasMissingPacksMarker()
        guard marked else { return [] }
        return try await forgetMissingPacks()
    }

    /// Records that `check` found missing packs (under its lock), so the next backup re-verifies.
    public func markMissingPacks(_ packs: Set<BlobID>) async throws {
        let body = try JSONEncoder().encode(packs.map(\.hex).sorted())
        _ = try await saveRecord(kind: Repository.missingPacksRecord, json: Array(body))
    }

    /// Removes the markers (inside an exclusive scope, after an index without missing packs was written).
    public func clearMissingPacksMarkers(_ scope: LockScope) async throws {
        for info in try await store.list(prefix: "records/\(Repository.missingPacksRecord)/") {
            try? await scope.store.delete(info.key)
        }
    }
}
