import Foundation
import KuraArchiver
import KuraChunker
import KuraMaintenance
import KuraRepository
import KuraStore
import KuraTestSupport

/// A repository in a temporary folder, with fast keys and small chunks and packs.
final class Fixture {
    let root: String
    let store: any ObjectStore
    let repository: Repository
    let password = Array("maintenance".utf8)

    init() async throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("kura-maint-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        store = try StoreFactory.open(root + "/repo", create: true)
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        options.chunker = ChunkerParameters(minSize: 4 << 10, averageSize: 16 << 10, maxSize: 64 << 10)
        options.packSize = 1 << 20
        repository = try await Repository.initialize(store: store, password: password, options: options)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `count` files of random bytes into src/NAME-i.
    func write(_ name: String, count: Int, size: Int, seed: UInt64) throws {
        for i in 0..<count {
            try Data(randomBytes(size, seed: seed &+ UInt64(i))).write(to: URL(fileURLWithPath: "\(root)/src/\(name)-\(i)"))
        }
    }

    func backup() async throws -> Snapshot {
        try await Archiver(repository: repository, options: BackupOptions(paths: [root + "/src"])).run().snapshot
    }

    /// A freshly opened repository (no state carried over from writing).
    func reopen() async throws -> Repository { try await Repository.open(store: store, password: password) }

    /// Deletes a pack that holds file data, rebuilds the index without it, and rewrites the snapshots
    /// that lost data (removing the originals): what an operator does after a lost pack.
    func loseADataPackAndRepair() async throws -> RepairReport {
        let repo = try await reopen()
        try await repo.loadIndex()
        let lost = repo.allBlobLocations().first { $0.entry.type == .data }!.pack
        try await store.delete(Pack.key(lost))
        _ = try await Repairer(repository: try await reopen()).repairIndex()
        return try await Repairer(repository: try await reopen()).repairSnapshots(forgetOriginals: true)
    }

    func packKeys() async throws -> [String] { try await store.list(prefix: "data/").map(\.key) }

    func flip(_ key: String, at position: Int? = nil) async throws {
        var b = try await store.get(key)
        b[position ?? b.count / 3] ^= 0x40
        try await store.put(key, data: b)
    }
}
