import Foundation
import KuraCrypto
@testable import KuraRepository
import KuraStore
import Testing
import KuraTestSupport

@Suite("Repository format")
struct FormatTests {
    @Test("a tree blob round-trips every field, including names that are not UTF-8")
    func treeRoundTrip() throws {
        var file = Node(name: [0x66, 0xff, 0x0a, 0x6f], type: .file)
        file.mode = 0o4755; file.uid = 1234; file.gid = 5678; file.user = "app"; file.group = "www"
        file.mtime = Timespec(seconds: 1_700_000_000, nanoseconds: 123_456_789)
        file.ctime = Timespec(seconds: -5, nanoseconds: 1)
        file.inode = 99; file.device = 0x803; file.links = 2; file.size = 70_000
        file.xattrs = [ExtendedAttribute(name: bytes("user.k"), value: [0, 1, 2])]
        file.content = [Extent(chunk: BlobID(bytes: SHA256.hash([1])), length: 4096), Extent(holeOf: 1 << 33)]
        var dir = Node(name: bytes("d"), type: .directory)
        dir.subtree = BlobID(bytes: SHA256.hash([2]))
        var link = Node(name: bytes("l"), type: .symlink)
        link.linkTarget = [0x2e, 0x2e, 0xfe]
        var dev = Node(name: bytes("null"), type: .characterDevice)
        dev.rdev = 0x103
        let tree = Tree(nodes: [link, file, dir, dev])
        let decoded = try Tree(decoding: tree.encoded())
        #expect(decoded == tree)
        #expect(decoded.nodes.map(\.name) == tree.nodes.map(\.name).sorted { $0.lexicographicallyPrecedes($1) })
        #expect(decoded.node(named: [0x66, 0xff, 0x0a, 0x6f])?.content.count == 2)
        #expect(decoded.node(named: bytes("nope")) == nil)
    }

    @Test("a truncated or extended tree blob is rejected as corrupt")
    func treeCorrupt() throws {
        var n = Node(name: bytes("a"), type: .file)
        n.content = [Extent(chunk: BlobID(bytes: SHA256.hash([1])), length: 1)]
        let encoded = Tree(nodes: [n]).encoded()
        for cut in [1, 5, encoded.count / 2, encoded.count - 1] {
            #expect(throws: KuraError.self) { try Tree(decoding: Array(encoded.prefix(cut))) }
        }
        #expect(throws: KuraError.self) { try Tree(decoding: encoded + [0]) }
    }

    @Test("an index file round-trips, including superseded ids")
    func indexRoundTrip() throws {
        let e = PackEntry(id: BlobID(bytes: SHA256.hash([3])), type: .tree, compressed: true, offset: 7, length: 100, rawLength: 300)
        let file = IndexFile(packs: [(BlobID(bytes: SHA256.hash([4])), [e])], supersedes: [BlobID(bytes: SHA256.hash([5]))])
        #expect(try IndexFile(decoding: file.encoded(), what: "t") == file)
    }

    @Test("init writes config and a key; open with the right password works, a wrong one fails with exit code 12")
    func passwords() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store, password: "right")
        let keys = try await store.list(prefix: "keys/")
        #expect(keys.count == 1)
        let reopened = try await Repository.open(store: store, password: bytes("right"))
        #expect(reopened.config == repo.config)
        #expect(reopened.chunkerSecret == repo.chunkerSecret)
        do {
            _ = try await Repository.open(store: store, password: bytes("wrong"))
            Issue.record("a wrong password opened the repository")
        } catch let e as KuraError {
            #expect(e.code == .wrongPassword)
            #expect(e.exitCode == 12)
        }
        // A second password opens the same master key.
        try await repo.addKey(password: bytes("second"), cost: (1 << 10, 8, 1))
        let viaSecond = try await Repository.open(store: store, password: bytes("second"))
        #expect(viaSecond.config.id == repo.config.id)
    }

    @Test("the default key cost is no weaker than restic's (N=2^15, r=8)")
    func keyCost() async throws {
        #expect(KeyFile.defaultCost.n >= 1 << 15 && KeyFile.defaultCost.r >= 8)
        let store = MemoryStore()
        var options = InitOptions()
        options.chunker = .init(minSize: 4096, averageSize: 16384, maxSize: 65536)
        _ = try await Repository.initialize(store: store, password: bytes("pw"), options: options)
        let key = try await store.get(try await store.list(prefix: "keys/")[0].key)
        let parsed = try JSONDecoder().decode(KeyFile.self, from: Data(key))
        #expect(parsed.n == 1 << 15 && parsed.r == 8 && parsed.kdf == "scrypt")
        #expect(!String(decoding: key, as: UTF8.self).contains("pw\""))
    }

    @Test("a missing repository is exit code 10; a newer format version is refused before any password")
    func missingAndNewer() async throws {
        do { _ = try await Repository.open(store: MemoryStore(), password: bytes("x")); Issue.record("opened nothing") } catch let e as KuraError {
            #expect(e.code == .noRepository && e.exitCode == 10)
        }
        let store = MemoryStore()
        _ = try await makeRepository(store: store)
        var json = try JSONSerialization.jsonObject(with: Data(try await store.get("config"))) as! [String: Any]
        json["version"] = 99
        try await store.put("config", data: Array(try JSONSerialization.data(withJSONObject: json)))
        do { _ = try await Repository.readConfig(store: store); Issue.record("read a newer format") } catch let e as KuraError {
            #expect(e.code == .unsupportedVersion)
            #expect(e.message.contains("99"))
        }
    }

    @Test("an altered config (readable fields changed) is detected")
    func configTamper() async throws {
        let store = MemoryStore()
        _ = try await makeRepository(store: store)
        var json = try JSONSerialization.jsonObject(with: Data(try await store.get("config"))) as! [String: Any]
        json["packSize"] = 1 << 22
        try await store.put("config", data: Array(try JSONSerialization.data(withJSONObject: json)))
        do { _ = try await Repository.open(store: store, password: bytes("correct horse")); Issue.record("tampering not detected") } catch let e as KuraError {
            #expect(e.code == .corrupt)
        }
    }

    @Test("blobs dedup, packs carry a header that rebuilds the index, and every stored file is named by its SHA-256")
    func packsAndIndex() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store, packSize: 1 << 20)
        let text = Array(String(repeating: "kura storehouse ", count: 4000).utf8)
        let (ids, snap, textBlob) = try await repo.withLock(.shared) { _ in
            var ids: [BlobID] = []
            for i in 0..<40 {
                let (id, stored) = try await repo.saveBlob(.data, randomBytes(60_000, seed: UInt64(i)))
                #expect(stored.isNew)
                ids.append(id)
            }
            let again = try await repo.saveBlob(.data, randomBytes(60_000, seed: 3))
            #expect(!again.stored.isNew && again.id == ids[3])
            let textBlob = try await repo.saveBlob(.tree, text)
            try await repo.flush()
            return (ids, try await repo.saveSnapshot(Snapshot(time: Date(), host: "h", username: "u", paths: ["/x"], tree: textBlob.id, program: "test")), textBlob)
        }
        #expect(snap.id != nil)

        // Content-named objects.
        for prefix in ["data/", "index/", "snapshots/", "keys/"] {
            let objects = try await store.list(prefix: prefix)
            #expect(!objects.isEmpty, "no objects under \(prefix)")
            for o in objects {
                let body = try await store.get(o.key)
                #expect(BlobID(bytes: SHA256.hash(body)).hex == o.key.split(separator: "/").last.map(String.init), "\(o.key)")
            }
        }
        // Rebuild the index from pack headers alone and compare.
        var fromPacks: [BlobID: PackEntry] = [:]
        let packs = try await store.list(prefix: "data/")
        #expect(packs.count >= 3, "40 × 60 kB in 1 MiB packs make several packs, and tree blobs go to their own pack")
        for p in packs {
            let bytes = try await store.get(p.key)
            for e in try Pack.parseHeader(tail: bytes, packSize: bytes.count, key: repo.masterKey, what: p.key) { fromPacks[e.id] = e }
        }
        #expect(Set(fromPacks.keys) == Set(ids + [textBlob.id]))
        for id in ids + [textBlob.id] { #expect(repo.location(of: id)?.entry == fromPacks[id]) }
        // Tree blobs and data blobs are never in the same pack.
        for p in packs {
            let bytes = try await store.get(p.key)
            let types = Set(try Pack.parseHeader(tail: bytes, packSize: bytes.count, key: repo.masterKey, what: p.key).map(\.type))
            #expect(types.count == 1)
        }
        // The compressible blob was compressed; random data was not.
        #expect(repo.location(of: textBlob.id)?.entry.compressed == true)
        #expect(repo.location(of: ids[0])?.entry.compressed == false)

        // A fresh open sees everything through the index files.
        let reopened = try await Repository.open(store: store, password: bytes("correct horse"))
        for (i, id) in ids.enumerated() { #expect(try await reopened.loadBlob(id) == randomBytes(60_000, seed: UInt64(i))) }
        #expect(try await reopened.loadBlob(textBlob.id) == text)
        #expect(try await reopened.listSnapshots().map(\.id) == [snap.id])
    }

    @Test("a flipped byte anywhere in a pack is detected when its blobs are read")
    func flippedPackByte() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store)
        let ids = try await repo.withLock(.shared) { _ in
            var ids: [BlobID] = []
            for i in 0..<5 { ids.append(try await repo.saveBlob(.data, randomBytes(3000, seed: UInt64(100 + i))).id) }
            try await repo.flush()
            return ids
        }
        let key = try await store.list(prefix: "data/")[0].key
        let original = try await store.get(key)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            var damaged = original
            let at = Int.random(in: 0..<damaged.count, using: &rng)
            damaged[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            try await store.put(key, data: damaged)
            let fresh = try await Repository.open(store: store, password: bytes("correct horse"))
            var failures = 0
            for id in ids { do { _ = try await fresh.loadBlob(id) } catch let e as KuraError { #expect(e.code == .corrupt); failures += 1 } }
            // The byte is inside a blob (that blob fails) or in the header/trailer (header parsing fails).
            var headerFails = false
            do { _ = try Pack.parseHeader(tail: damaged, packSize: damaged.count, key: repo.masterKey, what: key) } catch { headerFails = true }
            #expect(failures >= 1 || headerFails, "flip at \(at) went unnoticed")
        }
    }

    @Test("snapshot references resolve by unique prefix and `latest`; ambiguity and unknown ids are errors")
    func snapshotReferences() async throws {
        let repo = try await makeRepository()
        let saved = try await repo.withLock(.shared) { _ in
            let tree = try await repo.saveTree(Tree(nodes: [])).id
            try await repo.flush()
            var saved: [Snapshot] = []
            for i in 0..<3 {
                saved.append(try await repo.saveSnapshot(Snapshot(time: Date(timeIntervalSince1970: 1_700_000_000 + Double(i) * 60), host: "h\(i)", username: "u", paths: ["/p\(i)"], tree: tree, program: "t")))
            }
            return saved
        }
        #expect(try await repo.findSnapshot("latest").id == saved[2].id)
        #expect(try await repo.findSnapshot("latest", host: "h0").id == saved[0].id)
        #expect(try await repo.findSnapshot(String(saved[1].id!.hex.prefix(10))).id == saved[1].id)
        await #expect(throws: KuraError.self) { try await repo.findSnapshot("ffffffffffff") }
        await #expect(throws: KuraError.self) { try await repo.findSnapshot("xyz") }
        #expect(try await repo.listSnapshots().map(\.paths) == [["/p0"], ["/p1"], ["/p2"]])
    }

    @Test("a damaged snapshot file is named in the error")
    func damagedSnapshot() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store)
        let s = try await repo.withLock(.shared) { _ in
            let tree = try await repo.saveTree(Tree(nodes: [])).id
            try await repo.flush()
            return try await repo.saveSnapshot(Snapshot(time: Date(), host: "h", username: "u", paths: ["/"], tree: tree, program: "t"))
        }
        let key = "snapshots/\(s.id!.hex)"
        var body = try await store.get(key)
        body[body.count / 2] ^= 0x10
        try await store.put(key, data: body)
        do { _ = try await repo.loadSnapshot(s.id!); Issue.record("damage not detected") } catch let e as KuraError {
            #expect(e.code == .corrupt && e.message.contains(key))
        }
    }

    @Test("locks: an exclusive lock blocks others (exit code 11); shared locks coexist; release frees")
    func locks() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store)
        // Two more "processes": their own Repository instances over the same store.
        let b = try await Repository.open(store: store, password: bytes("correct horse"))
        let c = try await Repository.open(store: store, password: bytes("correct horse"))
        try await repo.withLock(.shared) { _ in
            try await b.withLock(.shared) { _ in
                #expect(try await repo.listLocks().count == 2)
                do { try await c.withLock(.exclusive) { _ in Issue.record("exclusive lock granted beside shared ones") } } catch let e as KuraError {
                    #expect(e.code == .locked && e.exitCode == 11)
                }
            }
        }
        #expect(try await repo.listLocks().isEmpty)
        try await c.withLock(.exclusive) { _ in
            await #expect(throws: KuraError.self) { try await repo.withLock(.shared) { _ in } }
            // Nested scopes of one instance share its lock; an exclusive scope inside a shared one is refused.
            let count = try await c.withLock(.shared) { _ in try await c.listLocks().count }
            #expect(count == 1)
        }
        #expect(try await repo.listLocks().isEmpty)
        try await repo.withLock(.shared) { _ in
            do { try await repo.withLock(.exclusive) { _ in Issue.record("lock upgraded inside a shared scope") } } catch let e as KuraError {
                #expect(e.code == .fatal)
            }
        }
        #expect(try await repo.listLocks().isEmpty)
    }

    @Test("writes and deletes outside a lock scope fail; deletes need the exclusive scope")
    func writesNeedTheLock() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store)
        do { _ = try await repo.saveBlob(.data, randomBytes(1000, seed: 1)); try await repo.flush(); Issue.record("write without a lock") } catch let e as KuraError {
            #expect(e.code == .fatal && e.message.contains("without holding the repository lock"))
        }
        do {
            _ = try await repo.saveSnapshot(Snapshot(time: Date(), host: "h", username: "u", paths: ["/"], tree: BlobID(bytes: randomBytes(32, seed: 2)), program: "t"))
            Issue.record("snapshot saved without a lock")
        } catch let e as KuraError { #expect(e.code == .fatal) }
        try await repo.withLock(.shared) { scope in
            do { try await scope.store.delete("keys/x"); Issue.record("delete in a shared scope") } catch let e as KuraError { #expect(e.code == .fatal) }
        }
        let snapshots = try await store.list(prefix: "snapshots/"), data = try await store.list(prefix: "data/")
        #expect(snapshots.isEmpty && data.isEmpty)
    }

    @Test("a lock not refreshed within its interval is lost: nothing more is written or committed; others judge it by age")
    func lostLock() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store)
        let other = try await Repository.open(store: store, password: bytes("correct horse"))
        let timing = LockTiming(staleAfter: 3)
        #expect(timing.refreshInterval == 0.5 && timing.lostAfter == 2.25)
        // A lock of this process, but its last refresh long ago (as after SIGSTOP): lost.
        var info = LockInfo(time: Timestamp.format(Date().addingTimeInterval(-10)), host: "h", username: "u", pid: 1, exclusive: false, nonce: "n")
        info.staleAfter = 3
        #expect(info.staleReason() != nil)
        let other2 = ProcessIdentity(host: "h", bootID: "b", pidNamespace: "pid:[1]", pid: 1, startTicks: nil)
        info.time = Timestamp.format(Date())
        // Same host name but another PID namespace: the PID proves nothing, only age counts.
        info.bootID = "b"; info.pidNamespace = "pid:[2]"; info.pid = 999_999
        #expect(info.staleReason(judge: other2) == nil)
        // Same machine and namespace, process gone: stale at once.
        info.pidNamespace = "pid:[1]"
        #expect(info.staleReason(judge: other2) != nil)
        _ = other
    }
}

@Suite("Index at scale")
struct IndexTests {
    func entries(_ n: Int, seed: UInt64) -> [PackEntry] {
        var out: [PackEntry] = []
        for i in 0..<n {
            let id = BlobID(bytes: randomBytes(32, seed: seed &* 1_000_003 &+ UInt64(i)))
            let type: BlobType = i % 7 == 0 ? .tree : .data
            out.append(PackEntry(id: id, type: type, compressed: i % 3 == 0, offset: UInt32(i * 100),
                                 length: UInt32(i + 28), rawLength: UInt32(2 * i)))
        }
        return out
    }

    @Test("merges grow the table in place when nothing shares it, and copy when a copy of the index does; both find every entry")
    func inPlaceMerges() throws {
        var index = MemoryIndex()
        var all: [(BlobID, PackEntry)] = []
        var shared: MemoryIndex? = nil
        for round in 0..<6 {
            let pack = BlobID(bytes: randomBytes(32, seed: 500 + UInt64(round)))
            let list = entries(9000 + round * 1000, seed: 600 + UInt64(round))
            if round == 3 { shared = index }   // a copy (like the one the cache writer takes): no in-place merge
            index.add(pack: pack, entries: list)
            index.mergeRecent()
            all += list.map { (pack, $0) }
        }
        #expect(index.table.count == all.count)
        for (pack, e) in all {
            let loc = index.location(of: e.id)
            #expect(loc?.entry == e && loc?.pack == pack)
        }
        // The copy still sees exactly what it had: rounds 0...2.
        let before = all.prefix(9000 + 10000 + 11000)
        #expect(shared?.table.count == before.count)
        for (_, e) in before.prefix(500) { #expect(shared?.location(of: e.id)?.entry == e) }
        #expect(shared?.location(of: all.last!.1.id) == nil)
        // Sorted, without duplicates.
        for i in 1..<index.table.count { #expect(index.table.id(at: i - 1) < index.table.id(at: i)) }
    }

    @Test("the table finds every entry after bulk loads and merges, and nothing else; 48 bytes per blob")
    func tableLookups() throws {
        var index = MemoryIndex()
        let packA = BlobID(bytes: randomBytes(32, seed: 1)), packB = BlobID(bytes: randomBytes(32, seed: 2))
        let a = entries(5000, seed: 10), b = entries(MemoryIndex.mergeThreshold + 1000, seed: 11)
        index.bulkLoad([IndexFile(packs: [(packA, a)])])
        index.add(pack: packB, entries: b)   // crosses the merge threshold
        index.mergeRecent()
        #expect(index.count == a.count + b.count)
        #expect(index.table.count == a.count + b.count)
        #expect(IndexTable.recordSize == 48)
        for e in a + b {
            let loc = index.location(of: e.id)
            #expect(loc?.entry == e)
        }
        #expect(index.location(of: a[17].id)?.pack == packA)
        #expect(index.location(of: b[17].id)?.pack == packB)
        for i in 0..<200 { #expect(index.location(of: BlobID(bytes: randomBytes(32, seed: 99_000 + UInt64(i)))) == nil) }
    }

    @Test("flush leaves the index cache current: it names every index file and holds every blob, so the next open reads none")
    func indexCacheAfterFlush() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let store = MemoryStore()
        let cacheDir = tmp.file("cache")
        _ = try await makeRepository(store: store)
        let repo = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cacheDir)
        let ids = try await repo.withLock(.shared) { _ in
            try await repo.loadIndex()  // as a backup does
            var ids: [BlobID] = []
            for i in 0..<30 { ids.append(try await repo.saveBlob(.data, randomBytes(4000, seed: UInt64(300 + i))).id) }
            try await repo.flush()
            return ids
        }
        let listed = Set(try await store.list(prefix: "index/").compactMap { BlobID(hex: String($0.key.dropFirst("index/".count))) })
        let cached = IndexCache(path: "\(cacheDir)/\(repo.config.id)/index.cache").load()
        #expect(!listed.isEmpty && cached?.indexIDs == listed)
        for id in ids { #expect(cached?.index.contains(id) == true) }
        // gc-like superseding index: the cache is not written from memory any more (it would be unknown).
        let superseding = IndexFile(packs: [], supersedes: Array(listed))
        try await repo.withLock(.exclusive) { _ in _ = try await repo.writeIndexFile(superseding) }
        #expect(repo.state.withLock { $0.indexFiles } == nil)
    }

    @Test("the index cache is used, updated with new index files only, and rebuilt when it does not match")
    func indexCache() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let store = MemoryStore()
        let cacheDir = tmp.file("cache")
        let repo = try await makeRepository(store: store)
        let first = try await repo.withLock(.shared) { _ in
            var first: [BlobID] = []
            for i in 0..<20 { first.append(try await repo.saveBlob(.data, randomBytes(5000, seed: UInt64(500 + i))).id) }
            try await repo.flush()
            return first
        }

        let a = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cacheDir)
        try await a.loadIndex()
        let cachePath = "\(cacheDir)/\(repo.config.id)/index.cache"
        #expect(FileManager.default.fileExists(atPath: cachePath))
        let cached = IndexCache(path: cachePath).load()
        #expect(cached?.index.count == 20)

        // A new index file: the next open reads only it and refreshes the cache.
        let second = try await a.withLock(.shared) { _ in
            var second: [BlobID] = []
            for i in 0..<5 { second.append(try await a.saveBlob(.data, randomBytes(5000, seed: UInt64(700 + i))).id) }
            try await a.flush()
            return second
        }
        let b = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cacheDir)
        for (i, id) in (first + second).enumerated() {
            #expect(try await b.loadBlob(id) == randomBytes(5000, seed: UInt64(i < 20 ? 500 + i : 700 + i - 20)))
        }
        #expect(IndexCache(path: cachePath).load()?.index.count == 25)

        // A garbage cache is ignored and rebuilt.
        try Data("not a cache".utf8).write(to: URL(fileURLWithPath: cachePath))
        let c = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cacheDir)
        #expect(try await c.loadBlob(second[2]) == randomBytes(5000, seed: 702))
        #expect(IndexCache(path: cachePath).load()?.index.count == 25)
    }
}

@Suite("Chunker secret")
struct ChunkerSecretTests {
    @Test("repositories cut the same data differently unless the chunker secret is copied (init --copy-chunker-params-from)")
    func copiedChunkerParameters() async throws {
        let data = randomBytes(600_000, seed: 5)
        let a = try await makeRepository()
        let b = try await makeRepository()
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        options.chunker = a.config.chunkerParameters
        options.chunkerKey = a.chunkerSecret
        let c = try await Repository.initialize(store: MemoryStore(), password: bytes("pw"), options: options)
        let cuts = { (r: Repository) in data.withUnsafeBytes { r.chunker.cutPoints(in: $0, isFinal: true) } }
        #expect(cuts(a).count > 10)
        #expect(cuts(a) != cuts(b), "independent repositories have independent gear tables")
        #expect(cuts(a) == cuts(c), "a copied secret gives identical cut points, so copies dedup")
        #expect(c.config.chunker == a.config.chunker)
    }
}
