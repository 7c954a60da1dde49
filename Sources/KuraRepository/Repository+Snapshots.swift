import Foundation
import KuraStore
import KuraCrypto

extension Repository {
    /// Stores a snapshot (the commit point of a backup) and returns it with its id. Only inside the
    /// lock scope that wrote its data, and only while that lock is provably still held: a process
    /// that lost its lock (stopped past the stale interval) may have had its data deleted by a gc.
    public func saveSnapshot(_ snapshot: Snapshot) async throws -> Snapshot {
        var s = snapshot
        let sealed = try seal(try JSON.encode(snapshot))
        try await ensureLockForCommit("a snapshot")
        let id = try await putNamedByContent(folder: "snapshots", sealed)
        s.id = id
        return s
    }

    /// Loads one snapshot by its full id.
    public func loadSnapshot(_ id: BlobID) async throws -> Snapshot {
        let key = "snapshots/\(id.hex)"
        let sealed: [UInt8]
        if let cache = objectCache, let cached = cache.read("snapshots", id), BlobID(bytes: SHA256.hash(cached)) == id {
            sealed = cached
        } else {
            sealed = try await getNamedByContent(key)
            objectCache?.write("snapshots", id, sealed)
        }
        let plain = try open(sealed, what: key)
        var s = try JSON.decode(Snapshot.self, from: plain, what: key)
        s.id = id
        return s
    }

    /// Ids of all snapshots (from the listing, without reading them).
    public func snapshotIDs() async throws -> [BlobID] {
        let infos: [ObjectInfo]
        do { infos = try await store.list(prefix: "snapshots/") } catch { throw Repository.storeError(error, doing: "listing snapshots") }
        return infos.compactMap { BlobID(hex: String($0.key.dropFirst("snapshots/".count))) }
    }

    /// Every readable snapshot, oldest first. A damaged snapshot does not stop the listing (nor a
    /// backup looking for its parent): it is left out and reported through `damaged`; `check` names it.
    public func listSnapshots(damaged: (@Sendable (BlobID, KuraError) -> Void)? = nil) async throws -> [Snapshot] {
        let ids = try await snapshotIDs()
        if let cache = objectCache {
            let listed = Set(ids)
            cache.prune("snapshots") { listed.contains($0) }   // forgotten snapshots leave the cache too
        }
        let loaded = try await withThrowingTaskGroup(of: Snapshot?.self) { group in
            var out: [Snapshot] = []
            var next = 0
            func spawn() {
                let id = ids[next]
                next += 1
                group.addTask {
                    do { return try await self.loadSnapshot(id) } catch let e as KuraError where e.code == .corrupt {
                        damaged?(id, e)
                        return nil
                    }
                }
            }
            while next < ids.count, next < 16 { spawn() }
            while let s = try await group.next() {
                if let s { out.append(s) }
                if next < ids.count { spawn() }
            }
            return out
        }
        return loaded.sorted { ($0.date, $0.id?.hex ?? "") < ($1.date, $1.id?.hex ?? "") }
    }

    /// Resolves an id prefix to a full snapshot id from the listing alone (without reading the
    /// snapshot, so a damaged one can still be named, e.g. to forget it). `latest` reads snapshots.
    public func resolveSnapshotID(_ reference: String) async throws -> BlobID {
        if reference == "latest" {
            guard let id = try await findSnapshot("latest").id else { throw KuraError(.notFound, "no snapshots") }
            return id
        }
        let ref = reference.lowercased()
        guard ref.count >= 4, ref.count <= 64, ref.allSatisfy({ $0.isHexDigit }) else {
            throw KuraError(.invalidArgument, "'\(reference)' is not a snapshot id", hint: "give `latest` or at least 4 hex digits of an id from `kura snapshots`")
        }
        let matches = try await snapshotIDs().filter { $0.hex.hasPrefix(ref) }
        switch matches.count {
        case 0: throw KuraError(.notFound, "no snapshot has an id starting with \(ref)", hint: "list them with `kura snapshots`")
        case 1: return matches[0]
        default: throw KuraError(.invalidArgument, "\(ref) matches \(matches.count) snapshots", hint: "give more digits of the id")
        }
    }

    /// Resolves `latest` or an id prefix (at least 4 hex digits, unique) to a snapshot. With
    /// `latest`, `host` and `paths` narrow the choice.
    public func findSnapshot(_ reference: String, host: String? = nil, path: String? = nil) async throws -> Snapshot {
        if reference == "latest" {
            let all = try await listSnapshots().filter { s in
                (host == nil || s.host == host) && (path == nil || s.paths.contains(path!))
            }
            guard let last = all.last else {
                throw KuraError(.notFound, "the repository has no snapshots\(host.map { " from host \($0)" } ?? "")", hint: "make one with `kura backup`")
            }
            return last
        }
        return try await loadSnapshot(try await resolveSnapshotID(reference))
    }
}
