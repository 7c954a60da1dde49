import Foundation
import KuraArchiver
@testable import KuraRepository
import KuraRestorer
import KuraStore
import Synchronization
import Testing
import KuraTestSupport

/// A memory store whose pack writes fail while `failPacks` is set (a full disk, a lost connection).
final class PackFailingStore: ObjectStore {
    let base = MemoryStore()
    let failPacks = Mutex(false)
    var location: String { base.location }
    var maxConcurrentRequests: Int { base.maxConcurrentRequests }
    func put(_ key: String, data: [UInt8]) async throws {
        if key.hasPrefix("data/"), failPacks.withLock({ $0 }) {
            throw ObjectStoreError(.io, key: key, location: location, message: "injected: no space left on device")
        }
        try await base.put(key, data: data)
    }
    func delete(_ key: String) async throws { try await base.delete(key) }
    func get(_ key: String) async throws -> [UInt8] { try await base.get(key) }
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8] { try await base.get(key, range: range) }
    func list(prefix: String) async throws -> [ObjectInfo] { try await base.list(prefix: prefix) }
    func stat(_ key: String) async throws -> ObjectInfo { try await base.stat(key) }
}

@Suite("Pack uploads in the background")
struct UploadFailureTests {
    @Test("a failed pack upload fails the backup; the next backup in the same process stores every blob again")
    func failedUploadLeavesNoClaims() async throws {
        let tmp = try TemporaryFolder("kura-upload")
        let source = tmp.file("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        // 24 files of 200 kB: with 1 MiB packs, several packs fill (and upload) during the backup.
        for i in 0..<24 { try RawFS.write(bytes("\(source)/f\(i)"), randomBytes(200_000, seed: UInt64(900 + i))) }
        let store = PackFailingStore()
        let repo = try await makeRepository(store: store)

        store.failPacks.withLock { $0 = true }
        await #expect(throws: (any Error).self) {
            _ = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run()
        }
        #expect(try await store.base.list(prefix: "snapshots/").isEmpty, "no snapshot refers to data that was not stored")

        // Same Repository instance (the next source of `kura run`): nothing may be skipped as "being
        // stored by another writer".
        store.failPacks.withLock { $0 = false }
        let snap = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        let fresh = try await Repository.open(store: store, password: bytes("correct horse"))
        let browser = SnapshotBrowser(repository: fresh, snapshot: snap)
        let target = tmp.file("out")
        let result = try await Restorer(repository: fresh, options: RestoreOptions(target: target)).restore(browser, entry: try await browser.entry(at: bytes(source)))
        #expect(result.errors.isEmpty)
        for i in 0..<24 { #expect(try RawFS.read(bytes("\(target)/f\(i)")) == randomBytes(200_000, seed: UInt64(900 + i))) }
    }
}
