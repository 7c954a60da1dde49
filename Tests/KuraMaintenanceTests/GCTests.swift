import Foundation
import KuraArchiver
import KuraChecker
import KuraMaintenance
import KuraRepository
import KuraRestorer
import KuraStore
import Testing
import KuraTestSupport

@Suite("gc and repair")
struct GCTests {
    func restoreAll(_ repo: Repository, _ snap: Snapshot, into dir: String) async throws -> RestoreResult {
        let browser = SnapshotBrowser(repository: repo, snapshot: snap)
        return try await Restorer(repository: repo, options: RestoreOptions(target: dir)).restore(browser, entry: try await browser.entry(at: [47]))
    }

    @Test("gc after a snapshot is removed frees its data, repacks partly used packs, and keeps the rest restorable")
    func collectAndRepack() async throws {
        let f = try await Fixture()
        try f.write("keep", count: 10, size: 100_000, seed: 10)
        try f.write("drop", count: 10, size: 100_000, seed: 20)
        let first = try await f.backup()
        for i in 0..<10 { try FileManager.default.removeItem(atPath: "\(f.root)/src/drop-\(i)") }
        let second = try await f.backup()
        try await f.store.delete("snapshots/\(first.id!.hex)")

        var dry = GCOptions(); dry.dryRun = true; dry.maxUnused = 0
        let plan = try await GarbageCollector(repository: try await f.reopen(), options: dry).run()
        #expect(plan.blobsRemoved > 0)
        #expect(try await f.store.list(prefix: "data/").count == plan.packsBefore, "a dry run deletes nothing")

        var options = GCOptions(); options.maxUnused = 0
        let report = try await GarbageCollector(repository: try await f.reopen(), options: options).run()
        #expect(report.bytesAfter < report.bytesBefore)
        #expect(report.bytesFreed > 800_000, "about 1 MB of dropped files; freed \(report.bytesFreed)")
        #expect(try await f.store.list(prefix: "index/").count == 1, "one index file supersedes the old ones")

        let repo = try await f.reopen()
        let check = try await Checker(repository: repo, options: CheckOptions(readData: .all)).run()
        #expect(check.isHealthy, "\(check.problems)")
        let restored = try await restoreAll(repo, second, into: f.root + "/restore")
        #expect(restored.errors.isEmpty)
        for i in 0..<10 {
            #expect(FileManager.default.contents(atPath: "\(f.root)/restore\(f.root)/src/keep-\(i)") == Data(randomBytes(100_000, seed: 10 &+ UInt64(i))))
        }
        // Nothing left to do the second time.
        let again = try await GarbageCollector(repository: try await f.reopen(), options: options).run()
        #expect(again.packsDeleted == 0 && again.packsRepacked == 0 && again.bytesFreed == 0)
    }

    @Test("packs left by an interrupted backup (in no index) are reported by check and removed by gc")
    func orphanPacks() async throws {
        let f = try await Fixture()
        try f.write("x", count: 3, size: 30_000, seed: 30)
        _ = try await f.backup()
        // Simulate a backup killed after uploading packs but before writing their index.
        let repo = try await f.reopen()
        try await repo.withLock(.shared) { _ in
            try await repo.loadIndex()
            for i in 0..<5 { _ = try await repo.saveBlob(.data, randomBytes(300_000, seed: 900 + UInt64(i))) }
            _ = try await repo.flushPacks()
        }
        let warned = try await Checker(repository: try await f.reopen(), options: CheckOptions()).run()
        #expect(warned.isHealthy && warned.warnings.contains { $0.contains("in no index") })
        let report = try await GarbageCollector(repository: try await f.reopen(), options: GCOptions()).run()
        #expect(report.orphanPacksDeleted >= 1)
        let after = try await Checker(repository: try await f.reopen(), options: CheckOptions(readData: .all)).run()
        #expect(after.isHealthy && after.warnings.isEmpty)
    }

    @Test("gc refuses to run while a backup holds a lock (exit code 11), and runs once it is released")
    func gcWaitsForLocks() async throws {
        let f = try await Fixture()
        try await f.repository.withLock(.shared) { _ in
            do {
                _ = try await GarbageCollector(repository: try await f.reopen(), options: GCOptions()).run()
                Issue.record("gc ran beside a shared lock")
            } catch let e as KuraError { #expect(e.exitCode == 11) }
        }
        _ = try await GarbageCollector(repository: try await f.reopen(), options: GCOptions()).run()
    }

    @Test("after the index is deleted, `repair index` makes the repository fully usable again")
    func repairIndex() async throws {
        let f = try await Fixture()
        try f.write("r", count: 15, size: 70_000, seed: 40)
        let snap = try await f.backup()
        for key in try await f.store.list(prefix: "index/") { try await f.store.delete(key.key) }
        let broken = try await Checker(repository: try await f.reopen(), options: CheckOptions()).run()
        #expect(!broken.isHealthy)
        let report = try await Repairer(repository: try await f.reopen()).repairIndex()
        #expect(report.blobsIndexed > 15 && report.packsUnreadable.isEmpty)
        let repo = try await f.reopen()
        let check = try await Checker(repository: repo, options: CheckOptions(readData: .all)).run()
        #expect(check.isHealthy, "\(check.problems)")
        #expect(try await restoreAll(repo, snap, into: f.root + "/restore").errors.isEmpty)
    }

    @Test("`repair snapshots` rewrites a snapshot whose data is lost, naming every removed file")
    func repairSnapshots() async throws {
        let f = try await Fixture()
        try f.write("s", count: 12, size: 200_000, seed: 50)
        let snap = try await f.backup()
        let report = try await f.loseADataPackAndRepair()
        #expect(report.rewritten[snap.id!.short] != nil)
        #expect(!report.removedPaths.isEmpty && report.removedPaths.allSatisfy { $0.contains("/src/s-") })
        let fixed = try await f.reopen()
        let list = try await fixed.listSnapshots()
        #expect(list.count == 1 && list[0].tags.contains("repaired") && list[0].incomplete)
        let check = try await Checker(repository: fixed, options: CheckOptions(readData: .all)).run()
        #expect(check.isHealthy, "\(check.problems)")
        #expect(try await restoreAll(fixed, list[0], into: f.root + "/restore").errors.isEmpty)
    }
}
