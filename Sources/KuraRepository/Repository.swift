import Foundation
import KuraChunker
import KuraCompression
import KuraCrypto
import KuraStore
import Synchronization

/// Choices made once, at `kura init`.
public struct InitOptions: Sendable {
    public var chunker = ChunkerParameters(minSize: 512 << 10, averageSize: 1 << 20, maxSize: 8 << 20)
    /// The secret from which the gear table is derived; nil makes a new random one. Copy it from another
    /// repository (`--copy-chunker-params-from`) so that the same data is cut the same way and copies dedup.
    public var chunkerKey: [UInt8]? = nil
    public var packSize = 16 << 20
    public var compressionLevel = 3
    /// scrypt cost of the first key. The CLI never goes below `KeyFile.defaultCost`; tests may.
    public var kdfCost = KeyFile.defaultCost
    public init() {}
}

/// An open repository: the format (config, keys, packs, index, trees, snapshots) over an `ObjectStore`.
///
/// Thread-safe. Writers call ``claim(_:)``, ``sealBlob(_:id:plaintext:)`` and ``addToPack(_:)`` from many tasks, then
/// ``flush()``, then ``saveSnapshot(_:)``: packs, then index, then the snapshot, which is the only
/// commit point.
public final class Repository: Sendable {
    /// The store, for reading. Writing and deleting need a lock scope: see ``withLock(_:_:)`` and
    /// ``LockScope/store``.
    public var store: any ObjectReader { rawStore }
    /// The store itself; written only through ``writableStore(for:)`` (under a held lock), by lock
    /// objects, and by `initialize`.
    let rawStore: any ObjectStore
    /// The lock this instance holds, shared by its scopes.
    let locks = LockKeeper()
    public let config: RepositoryConfig
    /// The FastCDC chunker with this repository's parameters and secret gear table.
    public let chunker: FastCDC
    let masterKey: [UInt8]
    let chunkerKey: [UInt8]
    /// Folder for the local index cache (per repository id), or nil for none.
    let cacheDirectory: String?
    /// The key file that opened the repository (nil right after `initialize`).
    public internal(set) var keyID: BlobID? {
        get { keyState.withLock { $0 } }
        set { keyState.withLock { $0 = newValue } }
    }
    private let keyState = Mutex<BlobID?>(nil)
    /// True when `open` took the master key from the local key cache (no full scrypt derivation).
    public internal(set) var openedFromKeyCache: Bool {
        get { keyCacheUsed.withLock { $0 } }
        set { keyCacheUsed.withLock { $0 = newValue } }
    }
    private let keyCacheUsed = Mutex(false)
    let state = Mutex(State())
    let compressors: CompressorPool
    /// Pack uploads in flight (at most two; writers wait while both are taken).
    let uploads = AsyncLimiter(capacity: 2)
    /// Data packs open at once, each with one appender at a time (which hashes what it appends: the
    /// pack's name); see ``addToPack(_:)``. One: since packs upload in the background, a second open
    /// pack measured no faster on 2 cores and cost 17 MB more (docs/benchmarks.md).
    static let openDataPacks = 1
    /// One appender per open pack: `openDataPacks` for data, one for trees.
    let dataPackGate = AsyncLimiter(capacity: Repository.openDataPacks)
    let treePackGate = AsyncLimiter(capacity: 1)

    struct State: ~Copyable {
        var index = MemoryIndex()
        var indexLoaded = false
        /// The index files the loaded index reflects exactly (nil: not known, e.g. after gc wrote a
        /// superseding one); the index cache is written from memory only when known.
        var indexFiles: Set<BlobID>?
        /// Ids claimed by a writer but not yet in an uploaded pack.
        var pending = Set<BlobID>()
        /// Open packs no appender holds right now (at most `openDataPacks` data packs, one tree pack).
        var dataPacks: [PackBuilder] = []
        var treePack: PackBuilder?
        /// Pack uploads started by `addToPack` and not yet awaited by `flushPacks`.
        var uploads: [Task<Void, any Error>] = []
        /// The first upload that failed since the last flush: later writers stop at once.
        var uploadFailure: (any Error)?
        /// Packs uploaded since the last index write.
        var unindexed: [(id: BlobID, entries: [PackEntry])] = []
    }

    private init(store: any ObjectStore, config: RepositoryConfig, masterKey: [UInt8], chunkerKey: [UInt8], cacheDirectory: String?) throws {
        self.rawStore = store
        self.cacheDirectory = cacheDirectory
        self.config = config
        self.masterKey = masterKey
        self.chunkerKey = chunkerKey
        let params = config.chunkerParameters
        do { try params.validate() } catch { throw KuraError(.corrupt, "config holds invalid chunker parameters: \(error)") }
        self.chunker = FastCDC(parameters: params, gear: Repository.gearTable(key: chunkerKey))
        self.compressors = CompressorPool(level: config.compressionLevel)
    }

    /// The gear table: value i is the first 8 bytes of HMAC-SHA256(chunker key, "kura-gear" ‖ i).
    static func gearTable(key: [UInt8]) -> GearTable {
        GearTable(values: (0..<256).map { i in
            let mac = HMACSHA256.authenticationCode(key: key, data: Array("kura-gear".utf8) + [UInt8(i)])
            return mac.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        })
    }

    // MARK: - Creating and opening

    /// Creates a new repository in an empty store and returns it open.
    public static func initialize(store: any ObjectStore, password: [UInt8], options: InitOptions = InitOptions(), cacheDirectory: String? = nil,
                                  keyCache useKeyCache: Bool = false) async throws -> Repository {
        if (try? await store.stat("config")) != nil {
            throw KuraError(.alreadyExists, "a repository already exists at \(store.location)", hint: "use it as it is, or choose another --repo")
        }
        guard !password.isEmpty else { throw KuraError(.invalidArgument, "the password is empty", hint: "give a non-empty password") }
        do { try options.chunker.validate() } catch {
            throw KuraError(.invalidArgument, "invalid chunker parameters: \(error)")
        }
        guard options.packSize >= 1 << 20, options.packSize <= 1 << 30 else {
            throw KuraError(.invalidArgument, "pack size must be between 1 MiB and 1 GiB")
        }
        let masterKey = SecureRandom.bytes(32)
        let chunkerKey = options.chunkerKey ?? SecureRandom.bytes(32)
        let id = Hex.encode(SecureRandom.bytes(32))
        let chunker = RepositoryConfig.Chunker(algorithm: "fastcdc-gear64", minSize: options.chunker.minSize,
                                               averageSize: options.chunker.averageSize, maxSize: options.chunker.maxSize)
        let created = Timestamp.format(Date())
        let sealed = SealedConfig(version: RepositoryConfig.currentVersion, id: id, created: created, chunker: chunker, compression: "zstd",
                                  compressionLevel: options.compressionLevel, packSize: options.packSize,
                                  chunkerKey: Data(chunkerKey).base64EncodedString())
        let sealedBytes = try AESGCM.seal(try JSON.encode(sealed, pretty: false), key: masterKey)
        let config = RepositoryConfig(version: RepositoryConfig.currentVersion, id: id, created: created,
                                      chunker: chunker, compression: "zstd", compressionLevel: options.compressionLevel,
                                      packSize: options.packSize, sealed: Data(sealedBytes).base64EncodedString())
        let repo = try Repository(store: store, config: config, masterKey: masterKey, chunkerKey: chunkerKey, cacheDirectory: cacheDirectory)
        // Keys first, config last: the config object is what makes a repository exist. Nobody else can
        // use a repository without a config, so these two writes need no lock.
        let key = try KeyFile.make(masterKey: masterKey, password: password, cost: options.kdfCost)
        let keyBytes = try JSON.encode(key)
        let keyID = BlobID(bytes: SHA256.hash(keyBytes))
        do {
            try await store.put("keys/\(keyID.hex)", data: keyBytes)
            try await store.put("config", data: try JSON.encode(config))
        } catch { throw storeError(error, doing: "writing the new repository") }
        repo.keyID = keyID
        // The first backup after `init` then skips the full key derivation too (see `open`).
        if useKeyCache, let cacheDirectory {
            KeyCache(directory: "\(cacheDirectory)/\(id)", repositoryID: id).save(keyID: keyID, masterKey: masterKey, password: password)
        }
        return repo
    }

    /// Reads the config without a password: enough to refuse a newer format or a missing repository.
    public static func readConfig(store: any ObjectStore) async throws -> RepositoryConfig {
        let bytes: [UInt8]
        do { bytes = try await store.get("config") } catch let e as ObjectStoreError where e.code == .notFound {
            throw KuraError(.noRepository, "there is no kura repository at \(store.location)",
                            hint: "create one with `kura init`, or point --repo / KURA_REPOSITORY at an existing one")
        } catch { throw Repository.storeError(error, doing: "reading the config of \(store.location)") }
        // Look at the version before anything else.
        struct VersionOnly: Decodable { var version: Int }
        let version = try JSON.decode(VersionOnly.self, from: bytes, what: "the repository config").version
        guard version <= RepositoryConfig.currentVersion else {
            throw KuraError(.unsupportedVersion, "the repository at \(store.location) has format version \(version); this kura reads version \(RepositoryConfig.currentVersion) and older",
                            hint: "upgrade kura; nothing was changed")
        }
        return try JSON.decode(RepositoryConfig.self, from: bytes, what: "the repository config")
    }

    /// Opens a repository with a password (tries every key file). `cacheDirectory` enables the local
    /// index cache (see `IndexCache`); with `keyCache` as well, the master key is also taken from and
    /// kept in the local key cache (see `KeyCache`: pass true only for a password from a file or the
    /// environment, never for one typed at a prompt).
    public static func open(store: any ObjectStore, password: [UInt8], cacheDirectory: String? = nil,
                            keyCache useKeyCache: Bool = false) async throws -> Repository {
        let config = try await readConfig(store: store)
        let keys: [ObjectInfo]
        do { keys = try await store.list(prefix: "keys/") } catch { throw storeError(error, doing: "listing keys") }
        guard !keys.isEmpty else { throw KuraError(.corrupt, "the repository at \(store.location) has no key files", hint: "restore the keys/ folder from a copy of the repository") }
        let keyCache = useKeyCache ? cacheDirectory.map { KeyCache(directory: "\($0)/\(config.id)", repositoryID: config.id) } : nil
        if let keyCache {
            // Only key files the repository still lists: removing a key revokes its cached copies.
            let listed = Set(keys.compactMap { BlobID(hex: String($0.key.dropFirst("keys/".count))) })
            keyCache.prune(listed: listed)
            for id in listed.sorted() {
                guard let master = keyCache.masterKey(keyID: id, password: password),
                      let repo = try? unseal(store: store, config: config, masterKey: master, cacheDirectory: cacheDirectory) else { continue }
                repo.keyID = id
                repo.openedFromKeyCache = true
                return repo
            }
        }
        var damaged: [String] = []
        for info in keys {
            let bytes: [UInt8]
            do { bytes = try await store.get(info.key) } catch { throw storeError(error, doing: "reading \(info.key)") }
            guard BlobID(bytes: SHA256.hash(bytes)).hex == info.key.split(separator: "/").last.map(String.init) else {
                damaged.append(info.key); continue
            }
            guard let keyFile = try? JSON.decode(KeyFile.self, from: bytes, what: info.key) else { damaged.append(info.key); continue }
            guard let master = try keyFile.unwrap(password: password, what: info.key) else { continue }
            let repo = try unseal(store: store, config: config, masterKey: master, cacheDirectory: cacheDirectory)
            repo.keyID = BlobID(hex: String(info.key.dropFirst("keys/".count)))
            if let keyCache, let id = repo.keyID { keyCache.save(keyID: id, masterKey: master, password: password) }
            return repo
        }
        if !damaged.isEmpty, damaged.count == keys.count {
            throw KuraError(.corrupt, "every key file is damaged: \(damaged.joined(separator: ", "))",
                            hint: "restore keys/ from a copy of the repository; without a key the data cannot be decrypted")
        }
        throw KuraError(.wrongPassword, "wrong password: no key in \(store.location) opens with it"
                        + (damaged.isEmpty ? "" : " (and these key files are damaged: \(damaged.joined(separator: ", ")))"),
                        hint: "check --password-file / KURA_PASSWORD_FILE / KURA_PASSWORD; nothing was changed")
    }

    private static func unseal(store: any ObjectStore, config: RepositoryConfig, masterKey: [UInt8], cacheDirectory: String?) throws -> Repository {
        guard let sealedData = Data(base64Encoded: config.sealed),
              let plain = try? AESGCM.open(Array(sealedData), key: masterKey) else {
            throw KuraError(.corrupt, "the repository config failed authentication: it was damaged or altered",
                            hint: "restore the config object from a copy of the repository")
        }
        let sealed = try JSON.decode(SealedConfig.self, from: plain, what: "the sealed config")
        guard sealed.id == config.id, sealed.version == config.version, sealed.created == config.created, sealed.chunker == config.chunker,
              sealed.compression == config.compression, sealed.compressionLevel == config.compressionLevel,
              sealed.packSize == config.packSize,
              let chunkerKey = Data(base64Encoded: sealed.chunkerKey), chunkerKey.count == 32 else {
            throw KuraError(.corrupt, "the repository config was altered: its readable fields differ from its authenticated copy",
                            hint: "restore the config object from a copy of the repository")
        }
        return try Repository(store: store, config: config, masterKey: masterKey, chunkerKey: Array(chunkerKey), cacheDirectory: cacheDirectory)
    }

    /// Adds a key file for another password (under a shared lock); returns its id. Refuses a password
    /// that already opens a key: a second key with the same password would survive `changePassword` of
    /// the first and keep the old password valid. Checking tries the password against every key file
    /// (one scrypt derivation each — fine for the handful of keys a repository has).
    @discardableResult
    public func addKey(password: [UInt8], cost: (n: UInt64, r: UInt64, p: UInt64) = KeyFile.defaultCost) async throws -> BlobID {
        try await withLock(.shared) { _ in
            let existing = try await keysOpening(password: password)
            if let first = existing.first {
                throw KuraError(.alreadyExists, "this password already opens key \(first.prefix(8)) of the repository",
                                hint: "choose a different password; nothing was added")
            }
            let file = try KeyFile.make(masterKey: masterKey, password: password, cost: cost)
            let bytes = try JSON.encode(file)
            let id = BlobID(bytes: SHA256.hash(bytes))
            try await put("keys/\(id.hex)", bytes)
            return id
        }
    }

    /// The secret chunker key, for `init --copy-chunker-params-from`.
    public var chunkerSecret: [UInt8] { chunkerKey }

    // MARK: - Storage helpers

    /// Writes an object under the held lock, turning storage errors into `KuraError`s that say what is safe.
    func put(_ key: String, _ bytes: [UInt8]) async throws {
        let store = try writableStore(for: key)
        do { try await store.put(key, data: bytes) } catch { throw Repository.storeError(error, doing: "writing \(key)") }
    }

    /// Deletes an object under the held lock (exclusive, but for lock objects).
    func delete(_ key: String) async throws {
        let store = try writableStore(for: key)
        do { try await store.delete(key) } catch { throw Repository.storeError(error, doing: "deleting \(key)") }
    }

    func get(_ key: String, range: Range<Int>? = nil) async throws -> [UInt8] {
        do {
            if let range { return try await store.get(key, range: range) }
            return try await store.get(key)
        } catch { throw Repository.storeError(error, doing: "reading \(key)") }
    }

    public static func storeError(_ error: any Error, doing what: String) -> KuraError {
        if let k = error as? KuraError { return k }
        guard let e = error as? ObjectStoreError else { return KuraError(.io, "\(what) failed", cause: SendableDescription(error)) }
        switch e.code {
        case .noSpace:
            return KuraError(.noSpace, "\(what) failed: the repository's storage is full",
                             hint: "free space or move the repository; snapshots saved before are intact, and this run saved no snapshot", cause: e)
        case .permissionDenied:
            return KuraError(.permissionDenied, "\(what) failed: permission denied", hint: e.permissionHint, cause: e)
        case .readOnly:
            return KuraError(.readOnly, "\(what) failed: the repository is read-only",
                             hint: "read-only commands (snapshots, ls, cat, restore, check) still work; write from a host that can write", cause: e)
        case .notFound:
            return KuraError(.notFound, "\(what) failed: the object is missing", cause: e)
        default:
            return KuraError(.io, "\(what) failed", cause: e)
        }
    }

    /// Encrypts with the master key (nonce ‖ ciphertext ‖ tag).
    func seal(_ plaintext: [UInt8]) throws -> [UInt8] { try AESGCM.seal(plaintext, key: masterKey) }

    /// Decrypts with the master key; a failure names `what`.
    func open(_ sealed: [UInt8], what: String) throws -> [UInt8] {
        do { return try AESGCM.open(sealed, key: masterKey) } catch {
            throw KuraError(.corrupt, "\(what) failed authentication: it is damaged (or was not written with this repository's key)")
        }
    }

    /// Writes an immutable object named by the SHA-256 of its stored bytes under `folder/`.
    func putNamedByContent(folder: String, _ stored: [UInt8]) async throws -> BlobID {
        let id = BlobID(bytes: SHA256.hash(stored))
        try await put("\(folder)/\(id.hex)", stored)
        return id
    }

    /// Reads an immutable content-named object, verifying its name against its bytes.
    func getNamedByContent(_ key: String) async throws -> [UInt8] {
        let bytes = try await get(key)
        let expected = key.split(separator: "/").last.map(String.init) ?? ""
        guard BlobID(bytes: SHA256.hash(bytes)).hex == expected else {
            throw KuraError(.corrupt, "\(key) is damaged: its SHA-256 does not match its name",
                            hint: "run `kura check` to see what it affects")
        }
        return bytes
    }
}

/// Wraps a non-Sendable error's description so it can travel as a cause.
struct SendableDescription: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ error: any Error) { description = String(describing: error) }
}

/// A small pool of reusable zstd compressors (each keeps its context between chunks).
final class CompressorPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [ZstdCompressor] = []
    let level: Int
    init(level: Int) { self.level = level }
    func withCompressor<T>(_ body: (ZstdCompressor) throws -> T) rethrows -> T {
        lock.lock()
        let c = free.popLast() ?? ZstdCompressor(level: level)
        lock.unlock()
        defer { lock.lock(); free.append(c); lock.unlock() }
        return try body(c)
    }
}
