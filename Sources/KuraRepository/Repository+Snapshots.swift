import Foundation
import KuraStore

extension Repository {
    /// Stores a snapshot (the commit point of a backup) and returns it with its id.
    public func saveSnapshot(_ snapshot: Snapshot) async throws -> Snapshot {
        var s = snapshot
        let id = try await putNamedByContent(folder: "snapshots", try seal(try JSON.encode(snapshot)))
        s.id = id
        return s
    }

    /// Loads one snapshot by its full id.
    public func loadSnapshot(_ id: BlobID) async throws -> Snapshot {
        let key = "snapshots/\(id.hex)"
        let plain = try open(try await getNamedByContent(key), what: key)
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

    /// Every snapshot, oldest first.
    public func listSnapshots() async throws -> [Snapshot] {
        let ids = try await snapshotIDs()
        let loaded = try await withThrowingTaskGroup(of: Snapshot.self) { group in
            var out: [Snapshot] = []
            var next = 0
            while next < ids.count, next < 16 { let id = ids[next]; group.addTask { try await self.loadSnapshot(id) }; next += 1 }
            while let s = try await group.next() {
                out.append(s)
                if next < ids.count { let id = ids[next]; group.addTask { try await self.loadSnapshot(id) }; next += 1 }
            }
            return out
        }
        return loaded.sorted { ($0.date, $0.id?.hex ?? "") < ($1.date, $1.id?.hex ?? "") }
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
        let ref = reference.lowercased()
        guard ref.count >= 4, ref.count <= 64, Hex.decode(ref.count % 2 == 0 ? ref : ref + "0") != nil else {
            throw KuraError(.invalidArgument, "'\(reference)' is not a snapshot id", hint: "give `latest` or at least 4 hex digits of an id from `kura snapshots`")
        }
        let matches = try await snapshotIDs().filter { $0.hex.hasPrefix(ref) }
        switch matches.count {
        case 0: throw KuraError(.notFound, "no snapshot has an id starting with \(ref)", hint: "list them with `kura snapshots`")
        case 1: return try await loadSnapshot(matches[0])
        default: throw KuraError(.invalidArgument, "\(ref) matches \(matches.count) snapshots", hint: "give more digits of the id")
        }
    }
}
