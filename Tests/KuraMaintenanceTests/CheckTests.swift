import Foundation
import KuraChecker
import KuraRepository
import KuraStore
import Testing

@Suite("check")
struct CheckTests {
    @Test("a healthy repository passes, with and without reading data")
    func healthy() async throws {
        let f = try await Fixture()
        try f.write("a", count: 20, size: 50_000, seed: 1)
        _ = try await f.backup()
        let repo = try await f.reopen()
        let structure = try await Checker(repository: repo, options: CheckOptions()).run()
        #expect(structure.isHealthy, "\(structure.problems)")
        #expect(structure.snapshots == 1 && structure.packsRead == 0)
        let full = try await Checker(repository: repo, options: CheckOptions(readData: .all)).run()
        #expect(full.isHealthy, "\(full.problems)")
        #expect(full.packsRead == full.packs && full.blobsVerified > 20)
    }

    @Test("a flipped byte in a data pack is found by --read-data, naming the pack, the blob, the snapshot and the file")
    func damagedPack() async throws {
        let f = try await Fixture()
        try f.write("a", count: 30, size: 40_000, seed: 2)
        let snap = try await f.backup()
        let repo = try await f.reopen()
        try await repo.loadIndex()
        // Damage the pack holding the chunks of src/a-7.
        let browser = try await repo.loadTree(snap.treeID!)
        _ = browser
        var target: BlobLocation?
        for loc in repo.allBlobLocations() where loc.entry.type == .data { target = loc; break }
        let loc = try #require(target)
        try await f.flip(Pack.key(loc.pack), at: Int(loc.entry.offset) + 40)
        let report = try await Checker(repository: try await f.reopen(), options: CheckOptions(readData: .all)).run()
        #expect(!report.isHealthy)
        let blobProblem = report.problems.first { $0.kind == "blob" && $0.object == loc.entry.id.hex }
        #expect(blobProblem != nil, "\(report.problems)")
        #expect(blobProblem?.affects.contains { $0.hasPrefix(snap.id!.short) && $0.contains("/src/a-") } == true)
        #expect(report.problems.contains { $0.kind == "pack" && $0.object == Pack.key(loc.pack) && $0.message.contains("SHA-256") })
    }

    @Test("damage to index files, snapshots and keys is detected and named (every trial)")
    func damagedMetadata() async throws {
        for kind in ["index/", "snapshots/", "keys/"] {
            let f = try await Fixture()
            try f.write("m", count: 5, size: 10_000, seed: 3)
            _ = try await f.backup()
            try await f.repository.addKey(password: Array("second".utf8), cost: (1 << 10, 8, 1))
            // Any object of the kind, but not the key we open with (then nothing could be opened at all).
            let key = try await f.store.list(prefix: kind).map(\.key).first { $0 != "keys/\(f.repository.keyID!.hex)" }!
            try await f.flip(key)
            let report = try await Checker(repository: try await f.reopen(), options: CheckOptions()).run()
            #expect(report.problems.contains { $0.object == key }, "damage to \(key) not named: \(report.problems)")
        }
    }

    @Test("a missing pack is reported with the files it affects; the subset 1/2 + 2/2 covers all packs")
    func missingPackAndSubsets() async throws {
        let f = try await Fixture()
        try f.write("b", count: 40, size: 60_000, seed: 4)
        _ = try await f.backup()
        let repo = try await f.reopen()
        let a = try await Checker(repository: repo, options: CheckOptions(readData: .part(1, of: 2))).run()
        let b = try await Checker(repository: repo, options: CheckOptions(readData: .part(2, of: 2))).run()
        #expect(a.packsRead + b.packsRead == a.packs)
        #expect(try CheckOptions.DataSubset.parse("10%") == .fraction(0.1))
        #expect(throws: KuraError.self) { try CheckOptions.DataSubset.parse("8/7") }

        try await repo.loadIndex()
        let dataPack = repo.allBlobLocations().first { $0.entry.type == .data }!.pack
        try await f.store.delete(Pack.key(dataPack))
        let report = try await Checker(repository: try await f.reopen(), options: CheckOptions()).run()
        #expect(report.problems.contains { $0.kind == "pack" && $0.message.contains("missing") })
    }
}
