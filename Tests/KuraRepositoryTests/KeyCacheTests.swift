import Foundation
@testable import KuraRepository
import KuraStore
import Testing
import KuraTestSupport

@Suite("Key cache")
struct KeyCacheTests {
    /// A repository whose key file has the CLI's full scrypt cost, so that the cached open is the
    /// cheaper one for real.
    func fullCostRepository(_ store: MemoryStore) async throws -> Repository {
        var options = InitOptions()
        options.chunker = .init(minSize: 4 << 10, averageSize: 16 << 10, maxSize: 64 << 10)
        return try await Repository.initialize(store: store, password: bytes("correct horse"), options: options)
    }

    @Test("the second open takes the master key from the cache (0600 in a 0700 folder); a wrong password still fails")
    func cachedOpen() async throws {
        let tmp = try TemporaryFolder("kura-keycache")
        let store = MemoryStore()
        let repo = try await fullCostRepository(store)
        let blob = try await repo.withLock(.shared) { _ in
            let id = try await repo.saveBlob(.data, randomBytes(5000, seed: 1)).id
            try await repo.flush()
            return id
        }
        let cache = tmp.file("cache")

        let first = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cache, keyCache: true)
        #expect(!first.openedFromKeyCache)
        let file = "\(cache)/\(repo.config.id)/keys/\(first.keyID!.hex)"
        var st = stat()
        #expect(stat(file, &st) == 0)
        let fileMode = st.st_mode & 0o777
        #expect(fileMode == 0o600)
        #expect(stat("\(cache)/\(repo.config.id)/keys", &st) == 0)
        let folderMode = st.st_mode & 0o777
        #expect(folderMode == 0o700)
        // Magic, salt, and the sealed key: the master key itself appears nowhere in it.
        let cached = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let sealedSize = 96
        #expect(cached.count == sealedSize)
        let master = repo.masterKey
        #expect(!(0...(cached.count - master.count)).contains { Array(cached[$0..<($0 + master.count)]) == master })

        let started = ContinuousClock.now
        let second = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cache, keyCache: true)
        let cachedTime = ContinuousClock.now - started
        #expect(second.openedFromKeyCache)
        #expect(second.keyID == first.keyID)
        #expect(try await second.loadBlob(blob) == randomBytes(5000, seed: 1))
        #expect(cachedTime < .milliseconds(500))

        // A wrong password opens neither the cache nor a key file.
        await #expect(throws: KuraError.self) {
            _ = try await Repository.open(store: store, password: bytes("wrong"), cacheDirectory: cache, keyCache: true)
        }
        // Without keyCache (a typed password) the cache is neither used nor needed.
        let typed = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cache, keyCache: false)
        #expect(!typed.openedFromKeyCache)
    }

    @Test("init caches the key it creates: the first open after it needs no full derivation")
    func initCaches() async throws {
        let tmp = try TemporaryFolder("kura-keycache")
        let store = MemoryStore()
        let cache = tmp.file("cache")
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        let repo = try await Repository.initialize(store: store, password: bytes("correct horse"), options: options, cacheDirectory: cache, keyCache: true)
        let opened = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cache, keyCache: true)
        #expect(opened.openedFromKeyCache)
        #expect(opened.keyID == repo.keyID)
        // Without keyCache (a typed password) init writes nothing.
        let other = try await Repository.initialize(store: MemoryStore(), password: bytes("x"), options: options, cacheDirectory: cache, keyCache: false)
        #expect(!FileManager.default.fileExists(atPath: "\(cache)/\(other.config.id)/keys"))
    }

    /// A fast-to-open repository in memory and a cache folder for it.
    func repositoryAndCache() async throws -> (TemporaryFolder, MemoryStore, Repository, String) {
        let tmp = try TemporaryFolder("kura-keycache")
        let store = MemoryStore()
        return (tmp, store, try await makeRepository(store: store), tmp.file("cache"))
    }

    @Test("a damaged cache file is ignored and rewritten")
    func damagedCache() async throws {
        let (scratch, store, repo, cache) = try await repositoryAndCache()
        defer { withExtendedLifetime(scratch) {} }
        let first = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cache, keyCache: true)
        let file = "\(cache)/\(repo.config.id)/keys/\(first.keyID!.hex)"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count - 5] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let second = try await Repository.open(store: store, password: Array("correct horse".utf8), cacheDirectory: cache, keyCache: true)
        #expect(!second.openedFromKeyCache)
        let third = try await Repository.open(store: store, password: Array("correct horse".utf8), cacheDirectory: cache, keyCache: true)
        #expect(third.openedFromKeyCache)
    }

    @Test("changing the password revokes the cached key: the old password opens nothing, and its cache entry is gone")
    func passwordChangeRevokes() async throws {
        let (scratch, store, repo, cache) = try await repositoryAndCache()
        defer { withExtendedLifetime(scratch) {} }
        // Another host's view: it caches the key for the old password.
        let host = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cache, keyCache: true)
        let oldKey = host.keyID!
        #expect(FileManager.default.fileExists(atPath: "\(cache)/\(repo.config.id)/keys/\(oldKey.hex)"))

        _ = try await repo.changePassword(from: bytes("correct horse"), to: bytes("new battery"), cost: (1 << 10, 8, 1))

        await #expect(throws: KuraError.self) {
            _ = try await Repository.open(store: store, password: bytes("correct horse"), cacheDirectory: cache, keyCache: true)
        }
        #expect(!FileManager.default.fileExists(atPath: "\(cache)/\(repo.config.id)/keys/\(oldKey.hex)"))
        let reopened = try await Repository.open(store: store, password: bytes("new battery"), cacheDirectory: cache, keyCache: true)
        #expect(!reopened.openedFromKeyCache)
        #expect(reopened.keyID != oldKey)
    }
}
