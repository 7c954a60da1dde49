import Foundation
import KuraCrypto
@testable import KuraRepository
import KuraStore
import Testing
import KuraTestSupport

@Suite("Pack assembly (names hashed while packs are built)")
struct PackAssemblyTests {
    @Test("packs written by concurrent writers are named by the SHA-256 of their bytes, stay near the target size, and give every blob back")
    func concurrentWritersMakeVerifiablePacks() async throws {
        let store = MemoryStore()
        let repo = try await makeRepository(store: store, packSize: 1 << 20)
        // Incompressible blobs of 40 KiB to 900 KiB from four tasks at once: appends interleave, and
        // blobs often do not fit the open pack's reserved buffer (target + 1 MiB).
        let sizes = [300 << 10, 700 << 10, 40 << 10, 900 << 10, 520 << 10, 130 << 10]
        let saved: [(BlobID, [UInt8])] = try await repo.withLock(.shared) { _ in
            let result = try await withThrowingTaskGroup(of: [(BlobID, [UInt8])].self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var out: [(BlobID, [UInt8])] = []
                        for i in 0..<6 {
                            let bytes = randomBytes(sizes[(worker + i) % sizes.count], seed: UInt64(worker * 100 + i))
                            out.append((try await repo.saveBlob(.data, bytes).id, bytes))
                        }
                        return out
                    }
                }
                var all: [(BlobID, [UInt8])] = []
                for try await part in group { all += part }
                return all
            }
            try await repo.flush()
            return result
        }
        let packs = try await store.list(prefix: "data/")
        // 24 blobs, 10.1 MiB in all: packs close at 1 MiB and never pass 2 MiB, so 5 to 10 of them.
        #expect((5...10).contains(packs.count), "\(packs.count) packs")
        for info in packs {
            let bytes = try await store.get(info.key)
            // The name can be checked without the key.
            let name = String(info.key.split(separator: "/").last ?? "")
            let digest = BlobID(bytes: SHA256.hash(bytes)).hex
            #expect(digest == name)
            // No pack grows past its reserved buffer: target + 1 MiB + header room.
            let limit = 2 << 20 + 1 << 16
            #expect(bytes.count <= limit, "\(info.key) has \(bytes.count) bytes")
        }
        let fresh = try await Repository.open(store: store, password: Array("correct horse".utf8))
        for (id, bytes) in saved {
            let loaded = try await fresh.loadBlob(id, verifyHash: true)
            #expect(loaded == bytes)
        }
    }
}
