import KuraCompression
import KuraCrypto

/// Where a blob is stored.
public struct BlobLocation: Hashable, Sendable {
    public var pack: BlobID
    public var entry: PackEntry
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

/// The in-memory index: blob id → location. Pack ids are interned so that an entry costs
/// 32 bytes of key plus 20 bytes of value (before the hash table's own overhead).
struct MemoryIndex {
    struct Entry {
        var pack: UInt32
        var offset: UInt32
        var length: UInt32
        var rawLength: UInt32
        /// bit 0: compressed; bits 1-7: blob type.
        var flags: UInt8
    }
    private(set) var packs: [BlobID] = []
    private var packNumbers: [BlobID: UInt32] = [:]
    private var entries: [BlobID: Entry] = [:]

    var count: Int { entries.count }
    var packCount: Int { packs.count }

    mutating func add(pack: BlobID, entries list: [PackEntry]) {
        let number: UInt32
        if let n = packNumbers[pack] { number = n } else {
            number = UInt32(packs.count); packs.append(pack); packNumbers[pack] = number
        }
        for e in list where entries[e.id] == nil {
            entries[e.id] = Entry(pack: number, offset: e.offset, length: e.length, rawLength: e.rawLength,
                                  flags: (e.compressed ? 1 : 0) | e.type.rawValue << 1)
        }
    }

    func contains(_ id: BlobID) -> Bool { entries[id] != nil }

    func location(of id: BlobID) -> BlobLocation? {
        guard let e = entries[id] else { return nil }
        return BlobLocation(pack: packs[Int(e.pack)], entry: PackEntry(
            id: id, type: BlobType(rawValue: e.flags >> 1) ?? .data, compressed: e.flags & 1 != 0,
            offset: e.offset, length: e.length, rawLength: e.rawLength))
    }

    /// Every (id, location), in no particular order.
    func allLocations() -> [BlobLocation] {
        entries.keys.compactMap { location(of: $0) }
    }
}
