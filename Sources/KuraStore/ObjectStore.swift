/// A flat store of immutable-looking objects addressed by keys: the one interface the repository layer
/// writes against. Implementations: ``LocalStore`` (a directory tree), ``S3Store`` (a bucket of an
/// S3-compatible service), ``MemoryStore`` (tests).
///
/// **Keys** are relative `/`-separated paths such as `data/ab/ab12cd…`. Every component is non-empty, at most
/// 255 bytes, made of ASCII letters, digits, `.`, `_` and `-`, and does not start with `.` (so a store's own
/// temporary files, named `.tmp-…`, can never be addressed or listed). A key is at most 1024 bytes. Anything
/// else throws ``ObjectStoreError/Code/invalidKey`` from every operation, before the store is touched.
///
/// A key cannot be both an object and a "directory" of other objects: with `a/b` stored, writing `a`
/// throws ``ObjectStoreError/Code/alreadyExists`` (and the other way round). Every store enforces this,
/// because a file system cannot represent both.
///
/// All failures are ``ObjectStoreError``s, with the same ``ObjectStoreError/Code`` for the same situation in
/// every implementation.
///
/// The reading half is ``ObjectReader``: the repository hands out only that half to its callers, and the
/// writing half only inside a lock scope (see `Repository.withLock`), so that a write or delete without
/// a held lock does not compile.
public protocol ObjectStore: ObjectReader {
    /// Creates or replaces `key` atomically: readers see the old object, or the whole new one, never a part.
    /// Durable when it returns (local: temp file in the same directory, write, fsync, rename, fsync the directory).
    /// On failure the previous object, if any, is untouched and no partial object is left behind.
    func put(_ key: String, data: [UInt8]) async throws

    /// Removes the object. ObjectStoreError(.notFound) if absent.
    func delete(_ key: String) async throws
}

/// The reading half of an ``ObjectStore``: everything but `put` and `delete`.
public protocol ObjectReader: Sendable {
    /// Where the store is, for messages (a path or URL).
    var location: String { get }

    /// How many requests this store should serve at once: ``LimitedStore`` holds callers to it, and
    /// ``StoreFactory`` wraps every store it opens in one. A local disk: a few (fsyncs queue up in the
    /// kernel anyway); a remote service: its connection limit; memory: no limit (`Int.max`).
    var maxConcurrentRequests: Int { get }

    /// Whether a read costs a round trip to another machine (and money): then the repository keeps a
    /// local cache of the objects it reads again and again (snapshots, trees). Default: false.
    var isRemote: Bool { get }

    /// The whole object; ``ObjectStoreError/Code/notFound`` if absent.
    func get(_ key: String) async throws -> [UInt8]

    /// Bytes in `range` of the object; ObjectStoreError(.rangeNotSatisfiable) if it reaches past the end.
    /// An empty range at or before the end returns `[]`; ``ObjectStoreError/Code/notFound`` if absent.
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8]

    /// Every object whose key starts with `prefix` (at any depth), sorted by key. "" lists everything.
    ///
    /// The match is on the key's characters, not on whole components: `data/a` lists `data/ab/x` and
    /// `data/a1`. A prefix that no valid key can start with (such as `/x` or `a//`) throws
    /// ``ObjectStoreError/Code/invalidKey``; a valid prefix that matches nothing returns `[]`.
    /// Keys are sorted by their UTF-8 bytes (the order S3 lists in).
    func list(prefix: String) async throws -> [ObjectInfo]

    /// The object's key and size; ``ObjectStoreError/Code/notFound`` if absent.
    func stat(_ key: String) async throws -> ObjectInfo
}

extension ObjectReader {
    public var isRemote: Bool { false }
}
