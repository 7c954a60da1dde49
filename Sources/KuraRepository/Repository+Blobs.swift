import KuraCompression
import KuraCrypto
import KuraStore

/// A blob ready for a pack: compressed (maybe) and encrypted.
public struct SealedBlob: Sendable {
    public var type: BlobType
    public var id: BlobID
    public var compressed: Bool
    public var rawLength: Int
    public var sealed: [UInt8]
    public init(type: BlobType, id: BlobID, compressed: Bool, rawLength: Int, sealed: [UInt8]) {
        self.type = type; self.id = id; self.compressed = compressed; self.rawLength = rawLength; self.sealed = sealed
    }
}

/// What storing one blob cost.
public struct StoredBlob: Sendable {
    /// False when the blob was already in the repository (or claimed by another writer): nothing stored.
    public var isNew: Bool
    public var rawLength: Int
    /// Bytes it takes in its pack (0 when not new).
    public var storedLength: Int
}

extension Repository {
    // MARK: - Index

    /// Loads the index (once): from the local index cache when there is one, reading only index files
    /// that are new since it was written; otherwise every index file. Index files listed in another's
    /// `supersedes` are skipped.
    public func loadIndex() async throws {
        if state.withLock({ $0.indexLoaded }) { return }
        let (index, files) = try await readIndex()
        install(index, files: files)
    }

    /// Reads the index again and swaps it in at once, so that a long-lived reader (`kura serve`) sees
    /// snapshots saved since it opened the repository; readers in flight never see an empty index.
    /// Call it after the set of snapshots changed: a snapshot is saved only after its index, so the new
    /// index covers every snapshot listed before the call. Does nothing while this instance is writing.
    public func refreshIndex() async throws {
        guard state.withLock({ $0.indexLoaded }) else { return try await loadIndex() }
        let (index, files) = try await readIndex()
        state.withLock { s in
            guard s.pending.isEmpty, s.dataPacks.isEmpty, s.treePack == nil, s.unindexed.isEmpty else { return }
            s.index = index
            s.indexFiles = files
        }
    }

    /// The index as the repository holds it now (cache plus new index files, or every index file), and
    /// the index files it reflects.
    private func readIndex() async throws -> (MemoryIndex, Set<BlobID>) {
        let listing: [ObjectInfo]
        do { listing = try await store.list(prefix: "index/") } catch { throw Repository.storeError(error, doing: "listing the index") }
        let current = Set(listing.compactMap { BlobID(hex: String($0.key.dropFirst("index/".count))) })
        let cache = cacheDirectory.map { IndexCache(path: "\($0)/\(config.id)/index.cache") }

        if let cache, let cached = cache.load(), cached.indexIDs.isSubset(of: current) {
            let newIDs = current.subtracting(cached.indexIDs)
            let newFiles = try await readIndexFiles(Array(newIDs))
            if newFiles.allSatisfy({ $0.1.supersedes.isEmpty }) {
                var index = cached.index
                for (_, file) in newFiles { for p in file.packs { index.add(pack: p.id, entries: p.entries) } }
                index.mergeRecent()
                if !newFiles.isEmpty { cache.save(indexIDs: current, index: index) }
                return (index, current)
            }
        }
        let files = try await readIndexFiles(Array(current))
        let superseded = Set(files.flatMap { $0.1.supersedes })
        let live = files.filter { !superseded.contains($0.0) }
        var index = MemoryIndex()
        index.bulkLoad(live.map(\.1))
        // The cache names every file it has taken into account, superseded ones included (their effect
        // is none): otherwise a superseded file still in the listing would look new next time, and the
        // fast path would add its packs back (packs gc or `forgetMissingPacks` dropped on purpose).
        cache?.save(indexIDs: current, index: index)
        return (index, current)
    }

    /// After a backup's index file is written: the in-memory index is the cache's next content, so
    /// the next command (the no-change backup an hour later) maps it instead of reading and decrypting
    /// the index files this one wrote. Only when the loaded index reflects exactly a known set of
    /// index files (every one this process wrote included) and nothing is left unindexed.
    func saveIndexCacheFromMemory() {
        guard let cacheDirectory else { return }
        let snapshot: (MemoryIndex, Set<BlobID>)? = state.withLock { s in
            guard s.indexLoaded, let files = s.indexFiles, s.unindexed.isEmpty else { return nil }
            // Merged where it is (in place), not in a copy: a copy of a million-blob table is 48 MB more.
            s.index.mergeRecent()
            return (s.index, files)
        }
        guard let (index, files) = snapshot else { return }
        IndexCache(path: "\(cacheDirectory)/\(config.id)/index.cache").save(indexIDs: files, index: index)
    }

    /// Drops the loaded index unless a write is in progress (claims, open packs), so that the next
    /// `loadIndex` reads what the repository holds now. Returns true if it dropped one.
    func forgetLoadedIndexIfIdle() -> Bool {
        state.withLock { s in
            guard s.indexLoaded, s.pending.isEmpty, s.dataPacks.isEmpty, s.treePack == nil, s.unindexed.isEmpty else { return false }
            s.index = MemoryIndex()
            s.indexFiles = nil
            s.indexLoaded = false
            return true
        }
    }

    private func install(_ index: MemoryIndex, files: Set<BlobID>) {
        state.withLock { s in
            guard !s.indexLoaded else { return }
            s.indexFiles = files
            var merged = index
            // Blobs packed by this process before the index was loaded stay known.
            for p in s.unindexed { merged.add(pack: p.id, entries: p.entries) }
            s.index = merged
            s.indexLoaded = true
        }
    }

    /// Every index file with its id (for check, gc and repair, which must not trust a cache).
    public func loadIndexFiles() async throws -> [(id: BlobID, file: IndexFile)] {
        let listing: [ObjectInfo]
        do { listing = try await store.list(prefix: "index/") } catch { throw Repository.storeError(error, doing: "listing the index") }
        return try await readIndexFiles(listing.compactMap { BlobID(hex: String($0.key.dropFirst("index/".count))) }).map { ($0.0, $0.1) }
    }

    /// Reads index files, 8 at a time.
    private func readIndexFiles(_ ids: [BlobID]) async throws -> [(BlobID, IndexFile)] {
        try await withThrowingTaskGroup(of: (BlobID, IndexFile).self) { group in
            var results: [(BlobID, IndexFile)] = []
            var next = 0
            func add() {
                let id = ids[next]
                next += 1
                group.addTask { (id, try await self.readIndexFile("index/\(id.hex)")) }
            }
            while next < ids.count, next < 8 { add() }
            while let r = try await group.next() {
                results.append(r)
                if next < ids.count { add() }
            }
            return results
        }
    }

    /// Reads and decodes one index object.
    public func readIndexFile(_ key: String) async throws -> IndexFile {
        let stored = try await getNamedByContent(key)
        let packed = try open(stored, what: key)
        guard packed.count >= 5 else { throw KuraError(.corrupt, "\(key) is truncated") }
        let rawLength = packed.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        var plain = Array(packed[5...])
        if packed[4] == 1 {
            do { plain = try Zstd.decompress(plain, expectedSize: rawLength) } catch {
                throw KuraError(.corrupt, "\(key) does not decompress: \(error)")
            }
        }
        return try IndexFile(decoding: plain, what: key)
    }

    /// Writes an index file; returns its id. Stored form: seal(u32le(plain length) ‖ flag ‖ body), flag 1
    /// when body is a zstd frame, 0 when it is the plain encoding.
    @discardableResult
    public func writeIndexFile(_ file: IndexFile) async throws -> BlobID {
        let plain = file.encoded()
        var packed: [UInt8] = []
        withUnsafeBytes(of: UInt32(plain.count).littleEndian) { packed.append(contentsOf: $0) }
        if let z = Zstd.compress(plain, level: 3) { packed.append(1); packed.append(contentsOf: z) } else { packed.append(0); packed.append(contentsOf: plain) }
        let id = try await putNamedByContent(folder: "index", try seal(packed))
        // A plain index file adds to what the loaded index reflects; one that supersedes others
        // (gc, repair) makes that unknown until the index is read again.
        state.withLock { s in if file.supersedes.isEmpty { s.indexFiles?.insert(id) } else { s.indexFiles = nil } }
        return id
    }

    /// Where a blob is, if the repository has it.
    public func location(of id: BlobID) -> BlobLocation? { state.withLock { $0.index.location(of: id) } }

    /// True when the repository (or a writer in this process) has the blob.
    public func contains(_ id: BlobID) -> Bool { state.withLock { $0.index.contains(id) || $0.pending.contains(id) } }

    /// Number of blobs and packs in the loaded index.
    public var indexCounts: (blobs: Int, packs: Int) { state.withLock { ($0.index.count, $0.index.packCount) } }

    /// Every indexed blob's location.
    public func allBlobLocations() -> [BlobLocation] { state.withLock { $0.index.allLocations() } }

    // MARK: - Writing blobs

    /// Claims `id` for this writer: true when it is new and the caller must store it; false when the
    /// repository has it or another writer is storing it (dedup).
    public func claim(_ id: BlobID) -> Bool {
        state.withLock { s in
            if s.index.contains(id) || s.pending.contains(id) { return false }
            s.pending.insert(id)
            return true
        }
    }

    /// Compresses (when that saves space) and encrypts a claimed blob: the CPU-bound half of storing
    /// it, done by the caller's task. Hand the result to ``addToPack(_:)``.
    public func sealBlob(_ type: BlobType, id: BlobID, plaintext: UnsafeRawBufferPointer) throws -> SealedBlob {
        let compressed = config.compression == "zstd" && Repository.worthCompressing(plaintext)
            ? compressors.withCompressor { $0.compress(plaintext) } : nil
        let sealed: [UInt8]
        // The blob id is the associated data: a blob only opens as the blob it was stored as.
        let aad = id.bytes
        if let compressed { sealed = try AESGCM.seal(compressed, key: masterKey, associatedData: aad) }
        else { sealed = try AESGCM.seal(plaintext, key: masterKey, associatedData: aad) }
        return SealedBlob(type: type, id: id, compressed: compressed != nil, rawLength: plaintext.count, sealed: sealed)
    }

    /// A cheap guess whether zstd will shrink a chunk: large chunks are sampled (16 KiB from the middle,
    /// compressed at level 1) and stored raw when the sample does not shrink by 3 %. Media files
    /// (JPEG, MP4, ZIP) are already compressed; this skips most of zstd's work on them.
    static func worthCompressing(_ data: UnsafeRawBufferPointer) -> Bool {
        guard data.count > 256 << 10 else { return true }
        let start = data.count / 2
        let sample = UnsafeRawBufferPointer(rebasing: data[start..<(start + (16 << 10))])
        guard let z = Zstd.compress(sample, level: 1) else { return false }
        return z.count < (16 << 10) * 97 / 100
    }

    /// Appends a sealed blob to the open pack of its type; uploads the pack when it reaches the target
    /// size. Returns the bytes the blob takes in its pack. Safe to call from many tasks at once.
    @discardableResult
    public func addToPack(_ blob: SealedBlob) async throws -> Int {
        // Backpressure: while two full packs are being uploaded, writers wait here instead of filling
        // more packs in memory (a slow disk or network must not make memory grow).
        await uploads.acquire(1)
        uploads.release(1)
        // A pack upload failed: stop at once (the claim is released, the blob was stored nowhere).
        if let failure = state.withLock({ s -> (any Error)? in
            if s.uploadFailure != nil { s.pending.remove(blob.id) }
            return s.uploadFailure
        }) { throw failure }
        // One task at a time appends to an open pack, outside the state lock: the append also hashes
        // the blob (the pack's name), which other tasks need not wait for to seal theirs. There are
        // `openDataPacks` open data packs, each with its own appender (one pack's hash is one sequential pass).
        let gate = blob.type == .data ? dataPackGate : treePackGate
        await gate.acquire(1)
        // Take the builder out of the state, so that its buffer is uniquely referenced and grows in
        // place (no copy-on-write of a 16 MiB array per blob).
        var builder: PackBuilder = state.withLock { s in
            if blob.type == .data { return s.dataPacks.popLast() ?? newPackBuilder(.data) }
            defer { s.treePack = nil }
            return s.treePack ?? newPackBuilder(.tree)
        }
        var full: [PackBuilder] = []
        if blob.type == .data, !builder.entries.isEmpty, builder.bytes.count + blob.sealed.count > builder.bytes.capacity {
            // The blob does not fit the buffer reserved for this pack: close the pack now rather than
            // grow (allocate and copy) a 16 MiB buffer, which would also raise the peak memory.
            full.append(builder)
            builder = newPackBuilder(blob.type)
        }
        builder.add(id: blob.id, compressed: blob.compressed, rawLength: blob.rawLength, sealed: blob.sealed)
        if builder.bytes.count >= config.packSize || builder.entries.count >= Repository.blobsPerPack { full.append(consume builder) } else {
            let open = consume builder
            state.withLock { s in if blob.type == .data { s.dataPacks.append(open) } else { s.treePack = open } }
        }
        gate.release(1)
        // Moved out of the array, not copied: a second reference would make `finish` copy the
        // 16 MiB buffer when it appends the header (a copy per pack, and 17 MiB more at the peak).
        while !full.isEmpty { try await startUpload(full.removeFirst()) }
        return blob.sealed.count
    }

    /// An empty pack of `type`. A data pack reserves the target size plus 1 MiB (about one average
    /// chunk) and 64 KiB for the header: a blob that would not fit closes the pack before it instead.
    private func newPackBuilder(_ type: BlobType) -> PackBuilder {
        type == .data ? PackBuilder(type: .data, capacity: config.packSize + (1 << 20) + (1 << 16))
            : PackBuilder(type: .tree, capacity: 1 << 20)
    }

    /// Hashes, claims and stores a blob held in memory. Returns its id and whether it was new.
    public func saveBlob(_ type: BlobType, _ bytes: [UInt8]) async throws -> (id: BlobID, stored: StoredBlob) {
        let id = BlobID(bytes: SHA256.hash(bytes))
        guard claim(id) else { return (id, StoredBlob(isNew: false, rawLength: bytes.count, storedLength: 0)) }
        let sealed = try bytes.withUnsafeBytes { try sealBlob(type, id: id, plaintext: $0) }
        // A remote repository's next backup loads these trees as its parent's: keep them at hand.
        if type == .tree, let cache = objectCache { cache.write("trees", id, sealed.sealed) }
        let stored = try await addToPack(sealed)
        return (id, StoredBlob(isNew: true, rawLength: bytes.count, storedLength: stored))
    }

    /// Hands a full pack to a background upload and returns: the writer that filled it goes on (and
    /// lets go of its read block) instead of waiting for the disk or the network, which stalled every
    /// core for the length of each pack write (`perf sched`: both workers idle during each 20 ms write).
    /// Waits only while two uploads are in flight (the memory bound). `flushPacks` waits for all of
    /// them and reports the first failure; a failure also stops every later `addToPack`.
    private func startUpload(_ builder: consuming PackBuilder) async throws {
        let pack = try builder.finish(key: masterKey)
        await uploads.acquire(1)
        let task = Task {
            defer { uploads.release(1) }
            do { try await upload(pack) } catch {
                state.withLock { s in
                    // Its blobs were stored nowhere: a later writer must store them again.
                    for e in pack.entries { s.pending.remove(e.id) }
                    if s.uploadFailure == nil { s.uploadFailure = error }
                }
                throw error
            }
        }
        state.withLock { $0.uploads.append(task) }
    }

    /// Waits for every pack upload in flight; throws the first failure (and forgets it: the next
    /// write starts clean).
    private func awaitUploads() async throws {
        var failure: (any Error)?
        while true {
            let tasks = state.withLock { s in defer { s.uploads = [] }; return s.uploads }
            if tasks.isEmpty { break }
            for t in tasks { do { try await t.value } catch { failure = failure ?? error } }
        }
        state.withLock { $0.uploadFailure = nil }
        if let failure { throw failure }
    }

    /// After a write failed (the body of `withLock` threw): waits for the uploads still in flight and
    /// releases claims whose blobs are in no open pack, so that the next backup in this process (the
    /// next source of `kura run`) stores those blobs instead of trusting a writer that gave up.
    func settleAfterFailure() async {
        try? await awaitUploads()
        state.withLock { s in
            var open = Set<BlobID>()
            for b in s.dataPacks { for e in b.entries { open.insert(e.id) } }
            for e in s.treePack?.entries ?? [] { open.insert(e.id) }
            s.pending.formIntersection(open)
        }
    }

    /// Stores one finished pack and indexes it (every few packs, writes an index file).
    private func upload(_ pack: (id: BlobID, bytes: [UInt8], entries: [PackEntry])) async throws {
        try await put(Pack.key(pack.id), pack.bytes)
        let batch: [(id: BlobID, entries: [PackEntry])]? = state.withLock { s in
            s.index.add(pack: pack.id, entries: pack.entries)
            for e in pack.entries { s.pending.remove(e.id) }
            s.unindexed.append((pack.id, pack.entries))
            // Every few packs, index what was uploaded: a backup killed later still leaves its data
            // indexed, so the next run reuses it instead of uploading it again.
            guard s.unindexed.count >= Repository.packsPerIndexFile
                    || s.unindexed.reduce(0, { $0 + $1.entries.count }) >= Repository.entriesPerIndexFile else { return nil }
            let b = s.unindexed
            s.unindexed = []
            return b
        }
        if let batch {
            do { try await writeIndexFile(IndexFile(packs: batch)) } catch {
                state.withLock { $0.unindexed.insert(contentsOf: batch, at: 0) }
                throw error
            }
        }
    }

    /// Blobs in one pack at most: 16 MiB of tiny files' chunks would be 200,000 blobs, and the pack's
    /// header, its index entries and their merge into the in-memory index (each ~10 MB at that count)
    /// set the peak memory of a backup of a million small files. Readers accept any count.
    static let blobsPerPack = 32_768

    /// Packs uploaded before an index file is written for them during a long backup.
    static let packsPerIndexFile = 4
    /// Blobs indexed by one index file written during a backup, at most about this many: packs of tiny
    /// files hold ~100,000 blobs each, and an index file of four of them (20 MB encoded, held three
    /// times while compressed and sealed) set the peak memory of a backup of a million small files.
    static let entriesPerIndexFile = 50_000

    /// Uploads the open packs and returns every pack uploaded since the last flush, without writing an
    /// index file (gc and repair write their own, superseding the old ones).
    public func flushPacks() async throws -> [(id: BlobID, entries: [PackEntry])] {
        // Wait for appends in progress (their builder is outside the state while they run).
        await dataPackGate.acquire(Repository.openDataPacks); await treePackGate.acquire(1)
        var open: [PackBuilder] = state.withLock { s in
            let list = (s.dataPacks + [s.treePack].compactMap { $0 }).filter { !$0.entries.isEmpty }
            s.dataPacks = []; s.treePack = nil
            return list
        }
        treePackGate.release(1); dataPackGate.release(Repository.openDataPacks)
        do {
            while !open.isEmpty { try await startUpload(open.removeFirst()) }
        } catch {
            try? await awaitUploads()
            throw error
        }
        try await awaitUploads()
        return state.withLock { s in let p = s.unindexed; s.unindexed = []; return p }
    }

    /// Uploads the open packs and writes one index file for every pack uploaded since the last flush.
    /// After it returns, every stored blob is durable and indexed; a snapshot may refer to them.
    public func flush() async throws {
        let packs = try await flushPacks()
        guard !packs.isEmpty else { return }
        do { try await writeIndexFile(IndexFile(packs: packs)) } catch {
            state.withLock { $0.unindexed.insert(contentsOf: packs, at: 0) }
            throw error
        }
        saveIndexCacheFromMemory()
    }

    // MARK: - Reading blobs

    /// Reads, decrypts and decompresses one blob. The authentication tag covers the blob id, so a
    /// damaged blob, or another blob in its place, fails to open; `verifyHash` also recomputes the
    /// SHA-256 of the plaintext (what `check --read-data` does).
    public func loadBlob(_ id: BlobID, verifyHash: Bool = false) async throws -> [UInt8] {
        let (sealed, loc) = try await readSealedBlob(id)
        return try decodeBlob(sealed, location: loc, verifyHash: verifyHash)
    }

    /// Where the index says a blob is (loading the index first if needed); `.corrupt` when it is not there.
    func indexedLocation(_ id: BlobID) async throws -> BlobLocation {
        if !state.withLock({ $0.indexLoaded }) { try await loadIndex() }
        guard let loc = location(of: id) else {
            throw KuraError(.corrupt, "blob \(id.short) is not in the index",
                            hint: "run `kura check`; `kura repair index` rebuilds the index from the packs")
        }
        return loc
    }

    /// A blob's sealed bytes, read from its pack (one ranged read), and its location.
    func readSealedBlob(_ id: BlobID) async throws -> (sealed: [UInt8], location: BlobLocation) {
        let loc = try await indexedLocation(id)
        let start = Int(loc.entry.offset)
        return (try await get(Pack.key(loc.pack), range: start..<(start + Int(loc.entry.length))), loc)
    }

    /// Decrypts (with the blob id as associated data), decompresses and checks the length of a sealed
    /// blob read from its pack; with `verifyHash`, also its SHA-256.
    public func decodeBlob(_ sealed: [UInt8], location loc: BlobLocation, verifyHash: Bool = true) throws -> [UInt8] {
        let what = "\(loc.entry.type) blob \(loc.entry.id.short) in pack \(loc.pack.short)"
        var plain: [UInt8]
        do { plain = try AESGCM.open(sealed, key: masterKey, associatedData: loc.entry.id.bytes) } catch {
            throw KuraError(.corrupt, "\(what) failed authentication: it is damaged (or is not the blob the index says)")
        }
        if loc.entry.compressed {
            do { plain = try Zstd.decompress(plain, expectedSize: Int(loc.entry.rawLength)) } catch {
                throw KuraError(.corrupt, "\(what) does not decompress: \(error)")
            }
        }
        guard plain.count == Int(loc.entry.rawLength) else {
            throw KuraError(.corrupt, "\(what) has \(plain.count) bytes where the index says \(loc.entry.rawLength)")
        }
        if verifyHash, BlobID(bytes: SHA256.hash(plain)) != loc.entry.id {
            throw KuraError(.corrupt, "\(what) is damaged: its content does not match its id")
        }
        return plain
    }

    /// Loads and decodes a tree blob.
    public func loadTree(_ id: BlobID) async throws -> Tree {
        guard let cache = objectCache else { return try Tree(decoding: try await loadBlob(id), id: id) }
        // Remote repositories: trees from the local cache (kept sealed, authenticated on every read).
        let loc = try await indexedLocation(id)
        if let sealed = cache.read("trees", id), sealed.count == Int(loc.entry.length) {
            if let plain = try? decodeBlob(sealed, location: loc, verifyHash: false) { return try Tree(decoding: plain, id: id) }
            cache.remove("trees", id)
        }
        let (sealed, _) = try await readSealedBlob(id)
        let plain = try decodeBlob(sealed, location: loc, verifyHash: false)
        cache.write("trees", id, sealed)
        return try Tree(decoding: plain, id: id)
    }

    /// Encodes and stores a tree; returns its id.
    public func saveTree(_ tree: Tree) async throws -> (id: BlobID, stored: StoredBlob) {
        if let bad = tree.nodes.first(where: { !Node.isValidName($0.name) }) {
            throw KuraError(.invalidArgument, "refusing to store an entry named \(PathBytes.display(bad.name).debugDescription): not a single path component")
        }
        return try await saveBlob(.tree, tree.encoded())
    }
}

extension Repository {
    /// Reads a content-named object (keys/, index/, snapshots/, data/) and verifies its name.
    public func readVerified(_ key: String) async throws -> [UInt8] { try await getNamedByContent(key) }

    /// Reads and authenticates a pack's header from its end (one range read, two for huge headers).
    public func readPackHeader(_ pack: BlobID, size: Int) async throws -> [PackEntry] {
        let key = Pack.key(pack)
        guard size >= 4 else { throw KuraError(.corrupt, "\(key) is too short to be a pack (\(size) bytes)") }
        var tail = try await get(key, range: (size - Pack.tailReadSize(packSize: size))..<size)
        let sealedLength = tail.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: tail.count - 4, as: UInt32.self))) }
        if sealedLength + 4 > tail.count, sealedLength + 4 <= size {
            tail = try await get(key, range: (size - sealedLength - 4)..<size)
        }
        return try Pack.parseHeader(tail: tail, packSize: size, key: masterKey, what: key)
    }
}
