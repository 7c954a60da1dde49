import KuraCompression
import KuraCrypto

/// Where a blob is stored.
public struct BlobLocation: Hashable, Sendable {
    public var pack: BlobID
    public var entry: PackEntry
    public init(pack: BlobID, entry: PackEntry) { self.pack = pack; self.entry = entry }
}

/// The contents of one `index/<id>` object: for each pack, the blobs it holds. `supersedes` names index
/// files that this one replaces (written by gc and `repair index`), which readers then ignore.
public struct IndexFile: Sendable, Equatable {
    public var packs: [(id: BlobID, entries: [PackEntry])]
    public var supersedes: [BlobID]

    public init(packs: [(id: BlobID, entries: [PackEntry])] = [], supersedes: [BlobID] = []) {
        self.packs = packs; self.supersedes = supersedes
    }

    public static func == (a: IndexFile, b: IndexFile) -> Bool {
        a.supersedes == b.supersedes && a.packs.count == b.packs.count
            && zip(a.packs, b.packs).allSatisfy { $0.id == $1.id && $0.entries == $1.entries }
    }

    static let magic: [UInt8] = Array("KIX1".utf8)

    /// Plaintext encoding (before compression and encryption).
    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 16 + packs.reduce(0) { $0 + 36 + $1.entries.count * 46 })
        w.raw(IndexFile.magic)
        w.u32(UInt32(supersedes.count))
        for s in supersedes { w.id(s) }
        w.u32(UInt32(packs.count))
        for p in packs {
            w.id(p.id)
            w.u32(UInt32(p.entries.count))
            for e in p.entries {
                w.id(e.id); w.u8(e.type.rawValue); w.u8(e.compressed ? 1 : 0)
                w.u32(e.offset); w.u32(e.length); w.u32(e.rawLength)
            }
        }
        return w.bytes
    }

    init(decoding bytes: [UInt8], what: String) throws {
        var r = BinaryReader(bytes, what: what)
        guard try r.raw(4) == IndexFile.magic else { throw KuraError(.corrupt, "\(what) has an unknown index format") }
        let ns = Int(try r.u32())
        guard ns <= bytes.count / 32 else { throw KuraError(.corrupt, "\(what) is malformed") }
        supersedes = try (0..<ns).map { _ in try r.id() }
        let np = Int(try r.u32())
        guard np <= bytes.count / 36 else { throw KuraError(.corrupt, "\(what) is malformed") }
        packs = []
        packs.reserveCapacity(np)
        for _ in 0..<np {
            let pid = try r.id()
            let n = Int(try r.u32())
            guard n <= bytes.count / 46 else { throw KuraError(.corrupt, "\(what) is malformed") }
            var entries: [PackEntry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                let id = try r.id()
                guard let type = BlobType(rawValue: try r.u8()) else { throw KuraError(.corrupt, "\(what) lists a blob of unknown type") }
                let flags = try r.u8()
                entries.append(PackEntry(id: id, type: type, compressed: flags & 1 != 0, offset: try r.u32(), length: try r.u32(), rawLength: try r.u32()))
            }
            packs.append((pid, entries))
        }
        try r.expectEnd()
    }
}

/// The in-memory index: blob id → location, at 48 bytes per blob.
///
/// Blobs live in a sorted ``IndexTable`` (owned memory, or a read-only mapping of the local index
/// cache); blobs added since the last merge sit in a small dictionary that is merged into the table
/// every 65,536 additions, so the per-blob cost stays at the table's 48 bytes.
struct MemoryIndex {
    struct Entry {
        /// Pack number in bits 0-29, blob type in bit 30 (1 = tree), compressed in bit 31.
        var packAndFlags: UInt32
        var offset: UInt32
        var length: UInt32
        var rawLength: UInt32

        init(packAndFlags: UInt32, offset: UInt32, length: UInt32, rawLength: UInt32) {
            self.packAndFlags = packAndFlags; self.offset = offset; self.length = length; self.rawLength = rawLength
        }
        init(pack: UInt32, _ e: PackEntry) {
            packAndFlags = pack | (e.type == .tree ? 1 << 30 : 0) | (e.compressed ? 1 << 31 : 0)
            offset = e.offset; length = e.length; rawLength = e.rawLength
        }
        var pack: Int { Int(packAndFlags & 0x3FFF_FFFF) }
        var type: BlobType { packAndFlags & (1 << 30) != 0 ? .tree : .data }
        var compressed: Bool { packAndFlags & (1 << 31) != 0 }
    }

    static let mergeThreshold = 1 << 16

    private(set) var packs: [BlobID] = []
    private var packNumbers: [BlobID: UInt32] = [:]
    private(set) var table = IndexTable()
    private var recent: [BlobID: Entry] = [:]

    init() {}

    /// An index over a loaded table (from the cache file) and its pack list.
    init(table: IndexTable, packs: [BlobID]) {
        self.table = table
        self.packs = packs
        for (i, p) in packs.enumerated() { packNumbers[p] = UInt32(i) }
    }

    var count: Int { table.count + recent.count }
    var packCount: Int { packs.count }

    private mutating func number(of pack: BlobID) -> UInt32 {
        if let n = packNumbers[pack] { return n }
        let n = UInt32(packs.count)
        packs.append(pack); packNumbers[pack] = n
        return n
    }

    mutating func add(pack: BlobID, entries list: [PackEntry]) {
        let n = number(of: pack)
        for e in list where lookup(e.id) == nil { recent[e.id] = Entry(pack: n, e) }
        if recent.count >= MemoryIndex.mergeThreshold { mergeRecent() }
    }

    /// Moves the recent additions into the sorted table.
    mutating func mergeRecent() {
        guard !recent.isEmpty else { return }
        let extra = Array(recent)
        recent = [:]
        // A table no copy of this index shares is grown in place (no second table at the peak).
        if isKnownUniquelyReferenced(&table), let grown = table.mergedInPlace(with: extra) { table = grown } else {
            table = table.merged(with: extra)
        }
    }

    /// Replaces the contents with every entry of `files` at once (sorting once instead of merging).
    mutating func bulkLoad(_ files: [IndexFile]) {
        let total = files.reduce(0) { $0 + $1.packs.reduce(0) { $0 + $1.entries.count } }
        let records = IndexTable.allocate(count: total)
        var i = 0
        for f in files {
            for p in f.packs {
                let n = number(of: p.id)
                for e in p.entries {
                    IndexTable.write(e.id, Entry(pack: n, e), to: records + i * IndexTable.recordSize)
                    i += 1
                }
            }
        }
        table = IndexTable.build(records, count: i)
        recent = [:]
    }

    func lookup(_ id: BlobID) -> Entry? { recent[id] ?? table.lookup(id) }

    func contains(_ id: BlobID) -> Bool { lookup(id) != nil }

    func location(of id: BlobID) -> BlobLocation? {
        guard let e = lookup(id) else { return nil }
        return location(id, e)
    }

    private func location(_ id: BlobID, _ e: Entry) -> BlobLocation {
        BlobLocation(pack: packs[e.pack], entry: PackEntry(id: id, type: e.type, compressed: e.compressed,
                                                            offset: e.offset, length: e.length, rawLength: e.rawLength))
    }

    /// Every (id, location), in no particular order.
    func allLocations() -> [BlobLocation] {
        var out: [BlobLocation] = []
        out.reserveCapacity(count)
        for i in 0..<table.count { let p = table.record(i); out.append(location(table.id(at: i), IndexTable.entry(at: p))) }
        for (id, e) in recent { out.append(location(id, e)) }
        return out
    }
}
