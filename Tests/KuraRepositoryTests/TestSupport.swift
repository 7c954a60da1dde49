import Foundation
import KuraChunker
import KuraFileSystem
@testable import KuraRepository
import KuraStore
import Testing
import KuraTestSupport

/// A fast-to-open repository for tests: scrypt cost lowered (the CLI never does this) and small
/// chunks so that modest files span many chunks.
func makeRepository(store: any ObjectStore = MemoryStore(), password: String = "correct horse",
                    chunker: ChunkerParameters = ChunkerParameters(minSize: 4 << 10, averageSize: 16 << 10, maxSize: 64 << 10),
                    packSize: Int = 1 << 20) async throws -> Repository {
    var options = InitOptions()
    options.kdfCost = (n: 1 << 10, r: 8, p: 1)
    options.chunker = chunker
    options.packSize = packSize
    return try await Repository.initialize(store: store, password: Array(password.utf8), options: options)
}

/// True when the file system under `dir` accepts user.* extended attributes.
func supportsUserXattrs(_ dir: String) -> Bool {
    let probe = bytes(dir + "/.xattr-probe")
    try? RawFS.write(probe, [1])
    defer { _ = RawFS.withPath(probe) { unlink($0) } }
    do { try ExtendedAttributes.set(linkPath: probe, name: bytes("user.probe"), value: [1], displayPath: probe); return true } catch { return false }
}
