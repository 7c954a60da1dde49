import Foundation

/// The local index cache: the merged index of a repository as one memory-mappable file, so that
/// `cat` and `restore --include` of one file do not read and decrypt every index file.
///
/// Layout: "KIC1" ‖ u32 index-file count ‖ u32 pack count ‖ u32 0 ‖ u64 record count
/// ‖ index file ids (32 bytes each) ‖ pack ids (32 bytes each) ‖ records (48 bytes each, sorted,
/// see ``IndexTable``). The file lives in the user's cache folder (0600), holds no secrets but blob
/// ids and locations, and is only a copy: it is rebuilt whenever the repository's index files are
/// not a superset of the ones it was made from. A blob read through a stale or damaged cache still
/// fails verification (its hash and tag are checked on every read).
struct IndexCache {
    let path: String

    struct Loaded {
        var indexIDs: Set<BlobID>
        var index: MemoryIndex
    }

    static let magic: [UInt8] = Array("KIC1".utf8)

    /// Maps the cache file, or nil when it is missing or malformed.
    func load() -> Loaded? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= 24 else { return nil }
        let length = Int(st.st_size)
        guard let map = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else { return nil }
        let p = UnsafeMutableRawPointer(map)
        func fail() -> Loaded? { munmap(map, length); return nil }
        guard memcmp(p, IndexCache.magic, 4) == 0 else { return fail() }
        let nIndex = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        let nPacks = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        let count = Int(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        let recordsOffset = 24 + 32 * (nIndex + nPacks)
        guard nIndex >= 0, nPacks >= 0, count >= 0, recordsOffset + count * IndexTable.recordSize == length else { return fail() }
        let raw = UnsafeRawBufferPointer(start: p, count: length)
        var ids = Set<BlobID>()
        for i in 0..<nIndex { ids.insert(BlobID(raw, at: 24 + 32 * i)) }
        var packs: [BlobID] = []
        packs.reserveCapacity(nPacks)
        for i in 0..<nPacks { packs.append(BlobID(raw, at: 24 + 32 * (nIndex + i))) }
        let table = IndexTable(mapping: p, length: length, records: p + recordsOffset, count: count)
        return Loaded(indexIDs: ids, index: MemoryIndex(table: table, packs: packs))
    }

    /// Writes the cache atomically (temp file, rename); failures are ignored (it is only a cache).
    func save(indexIDs: Set<BlobID>, index: MemoryIndex) {
        var header = BinaryWriter(capacity: 24 + 32 * (indexIDs.count + index.packCount))
        header.raw(IndexCache.magic)
        header.u32(UInt32(indexIDs.count)); header.u32(UInt32(index.packCount)); header.u32(0)
        header.u64(UInt64(index.table.count))
        for id in indexIDs.sorted() { header.id(id) }
        for p in index.packs { header.id(p) }
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        var ok = header.bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        let records = index.table.rawRecords
        var done = 0
        while ok, done < records.count {
            let n = write(fd, records.baseAddress! + done, records.count - done)
            if n <= 0 { ok = false } else { done += n }
        }
        close(fd)
        if ok { rename(tmp, path) } else { unlink(tmp) }
    }
}
