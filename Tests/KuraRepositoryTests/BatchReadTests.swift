import Foundation
import KuraArchiver
@testable import KuraRepository
import KuraRestorer
import KuraStore
import KuraStoreTesting
import KuraTestSupport
import Synchronization
import Testing

@Suite("Batched blob reads (few requests for many small blobs)")
struct BatchReadTests {
    static func location(_ pack: UInt8, _ n: UInt8, offset: UInt32, length: UInt32) -> BlobLocation {
        BlobLocation(pack: BlobID(bytes: [UInt8](repeating: pack, count: 32)),
                     entry: PackEntry(id: BlobID(bytes: [UInt8](repeating: n, count: 32)), type: .data, compressed: false,
                                      offset: offset, length: length, rawLength: length))
    }

    @Test("the plan joins neighbouring blobs of a pack within the gap and read limits, once each, and never mixes packs")
    func plan() {
        let a1 = Self.location(1, 1, offset: 0, length: 100)
        let a2 = Self.location(1, 2, offset: 150, length: 100)      // 50 bytes after a1: joined
        let a3 = Self.location(1, 3, offset: 1_000, length: 100)    // 750 bytes after a2: a new read
        let a4 = Self.location(1, 4, offset: 1_100, length: 5_000)  // joined, but the read would pass 2,000 bytes
        let b1 = Self.location(2, 5, offset: 40, length: 10)        // another pack: its own read
        let reads = PackRead.plan([a3, b1, a2, a1, a4, a2], maxGap: 100, maxRead: 2_000)
        #expect(reads.map(\.range) == [0..<250, 1_000..<1_100, 1_100..<6_100, 40..<50])
        #expect(reads.map { $0.blobs.map(\.entry.id) } == [[a1.entry.id, a2.entry.id], [a3.entry.id], [a4.entry.id], [b1.entry.id]])
        #expect(PackRead.plan([], maxGap: 100, maxRead: 2_000).isEmpty)
    }

    @Test("loadBlobs gives back every blob with one read per pack region; a damaged blob is left out, the others still load")
    func loadBlobs() async throws {
        let memory = MemoryStore()
        let counting = CountingStore(memory)
        let repo = try await makeRepository(store: counting, packSize: 1 << 20)
        let blobs = (0..<300).map { randomBytes(1_000 + ($0 * 7_919) % 20_000, seed: UInt64($0)) }
        let ids = try await repo.withLock(.shared) { _ in
            var ids: [BlobID] = []
            for b in blobs { ids.append(try await repo.saveBlob(.data, b).id) }
            try await repo.flush()
            return ids
        }
        let packs = try await memory.list(prefix: "data/")
        #expect(packs.count >= 3, "\(packs.count) packs")
        counting.reset()
        let loaded = await repo.loadBlobs(ids)
        #expect(loaded.count == blobs.count)
        for (id, b) in zip(ids, blobs) { #expect(loaded[id] == b) }
        // One ranged read per pack (the blobs of each pack are contiguous and under 8 MiB).
        #expect(counting.calls["get(range)"] == packs.count, "\(counting.calls) for \(packs.count) packs")

        // Damage one blob in its pack: only that blob is missing, and loading it alone says why.
        let victim = ids[150]
        let loc = try #require(repo.location(of: victim))
        var pack = try await memory.get(Pack.key(loc.pack))
        pack[Int(loc.entry.offset) + Int(loc.entry.length) / 2] ^= 0x20
        try await memory.put(Pack.key(loc.pack), data: pack)
        let again = await repo.loadBlobs(ids)
        #expect(again.count == blobs.count - 1 && again[victim] == nil)
        await #expect(throws: KuraError.self) { _ = try await repo.loadBlob(victim) }
    }

    /// 240 small files in two folders and one file over the small-file limit, backed up into a memory
    /// store; the number of chunks of the big file.
    struct SmallFiles {
        var source: String
        var files: [String: [UInt8]] = [:]
        var memory = MemoryStore()
        var snapshot: Snapshot
        var bigChunks: Int

        init(_ tmp: TemporaryFolder) async throws {
            source = tmp.file("src")
            for dir in ["", "/sub"] { try FileManager.default.createDirectory(atPath: source + dir, withIntermediateDirectories: true) }
            for i in 0..<240 { files[(i % 4 == 0 ? "/sub" : "") + "/f\(i).bin"] = randomBytes(500 + (i * 4_099) % 30_000, seed: UInt64(i)) }
            files["/big.bin"] = randomBytes(1_400_000, seed: 999)  // over the small-file limit: streamed on its own
            for (path, data) in files { try Data(data).write(to: URL(fileURLWithPath: source + path)) }
            let writer = try await makeRepository(store: memory, packSize: 1 << 20)
            snapshot = try await Archiver(repository: writer, options: BackupOptions(paths: [source])).run().snapshot
            let big = try await SnapshotBrowser(repository: writer, snapshot: snapshot).entry(at: Array((source + "/big.bin").utf8)).node
            bigChunks = try #require(big).content.count
        }

        /// The repository through a store that counts its calls and says it is local or remote.
        func open(remote: Bool) async throws -> (Repository, CountingStore) {
            let counting = CountingStore(memory, remote: remote)
            let repo = try await Repository.open(store: counting, password: Array("correct horse".utf8))
            try await repo.loadIndex()
            counting.reset()
            return (repo, counting)
        }
    }

    @Test("a restore from a remote store reads a folder's small files in batches: a few requests instead of one per chunk, same bytes")
    func restoreFromRemoteBatches() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let fixture = try await SmallFiles(tmp)
        var reads: [Bool: Int] = [:]
        for remote in [false, true] {
            let (repo, counting) = try await fixture.open(remote: remote)
            let target = tmp.file("restore-\(remote)")
            let browser = SnapshotBrowser(repository: repo, snapshot: fixture.snapshot)
            let result = try await Restorer(repository: repo, options: RestoreOptions(target: target)).restore(browser, entry: try await browser.entry(at: Array(fixture.source.utf8)))
            #expect(result.errors.isEmpty, "\(result.errors)")
            #expect(result.files == fixture.files.count)
            for (path, data) in fixture.files {
                #expect(FileManager.default.contents(atPath: target + path) == Data(data), "\(path) (remote: \(remote))")
            }
            reads[remote] = counting.calls["get(range)"] ?? 0
        }
        let local = reads[false]!, remote = reads[true]!, bigChunks = fixture.bigChunks
        print("ranged reads of the restore: local store \(local), remote store \(remote); big file \(bigChunks) chunks")
        // Unbatched: one read per chunk (240 small files of one or more chunks, and the big file's).
        #expect(local >= 240 + bigChunks, "\(local) reads, \(bigChunks) chunks in the big file")
        // Batched: the big file's chunks, the folders' trees and a few reads per folder.
        #expect(remote <= bigChunks + 20, "\(remote) reads, \(bigChunks) chunks in the big file")
    }

    @Test("kura dump from a remote store reads small files in batches and writes the same archive, byte for byte")
    func dumpFromRemoteBatches() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let fixture = try await SmallFiles(tmp)
        var archives: [Bool: [UInt8]] = [:], reads: [Bool: Int] = [:]
        for remote in [false, true] {
            let (repo, counting) = try await fixture.open(remote: remote)
            let browser = SnapshotBrowser(repository: repo, snapshot: fixture.snapshot)
            let out = Mutex([UInt8]())
            try await Dumper(browser: browser).dump(try await browser.entry(at: Array(fixture.source.utf8)), format: .tar,
                                                    sink: { bytes in out.withLock { $0 += bytes } })
            archives[remote] = out.withLock { $0 }
            reads[remote] = counting.calls["get(range)"] ?? 0
        }
        let size = fixture.files.values.reduce(0) { $0 + $1.count }
        #expect(archives[false]!.count > size && archives[true]! == archives[false]!, "\(archives[false]!.count) vs \(archives[true]!.count) bytes")
        #expect(reads[false]! >= 240 + fixture.bigChunks && reads[true]! <= fixture.bigChunks + 20, "\(reads), \(fixture.bigChunks) chunks in the big file")
    }
}

@Suite("Batched reads under a tight memory budget")
struct BatchBudgetTests {
    @Test("a restore from a remote store whose batches wait for a budget smaller than any batch finishes (no deadlock between folders) and restores every byte")
    func tightBudgetDoesNotDeadlock() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        var files: [String: [UInt8]] = [:]
        // Small files, then 40 folders (each with small files and a subfolder of small files), then
        // more small files: runs of the parent wait behind subfolders that wait for the same budget.
        func add(_ path: String, _ seed: Int) { files[path] = randomBytes(2_000 + (seed * 7_919) % 40_000, seed: UInt64(seed)) }
        for i in 0..<30 { add("/a\(i)", i) }
        for d in 0..<40 {
            for i in 0..<12 { add("/d\(d)/f\(i)", 1_000 + d * 100 + i) }
            for i in 0..<6 { add("/d\(d)/inner/g\(i)", 9_000 + d * 100 + i) }
        }
        for i in 0..<30 { add("/z\(i)", 50_000 + i) }
        for (path, data) in files {
            try FileManager.default.createDirectory(atPath: (source + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(data).write(to: URL(fileURLWithPath: source + path))
        }
        let memory = MemoryStore()
        let writer = try await makeRepository(store: memory, packSize: 1 << 20)
        let snapshot = try await Archiver(repository: writer, options: BackupOptions(paths: [source])).run().snapshot
        let counting = CountingStore(memory, remote: true)
        let repo = try await Repository.open(store: counting, password: Array("correct horse".utf8))
        var options = RestoreOptions(target: tmp.file("out"))
        options.preloadBudget = 10_000   // smaller than every batch: one batch loaded at a time
        let browser = SnapshotBrowser(repository: repo, snapshot: snapshot)
        let entry = try await browser.entry(at: Array(source.utf8))
        let restorer = try Restorer(repository: repo, options: options)
        // A deadlock would hang (waits for the budget are not cancellable): run the restore on its own
        // and give it a minute, so that the test fails instead of hanging.
        let outcome = Mutex<Result<RestoreResult, any Error>?>(nil)
        Task {
            let r: Result<RestoreResult, any Error>
            do { r = .success(try await restorer.restore(browser, entry: entry)) } catch { r = .failure(error) }
            outcome.withLock { $0 = r }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while outcome.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let result = try #require(outcome.withLock { $0 }, "the restore did not finish within 60 s").get()
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.files == files.count)
        for (path, data) in files { #expect(FileManager.default.contents(atPath: tmp.file("out") + path) == Data(data), "\(path)") }
        #expect((counting.calls["get(range)"] ?? 0) < files.count, "\(counting.calls) for \(files.count) files")
    }
}
