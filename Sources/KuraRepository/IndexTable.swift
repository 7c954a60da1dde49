import CKuraSystem
import Foundation

/// The compact in-memory (or memory-mapped) index: fixed 48-byte records sorted by blob id.
///
/// Record layout (little-endian): 32-byte id (big-endian words, so byte order = sort order),
/// u32 pack number (bits 0-29) with the blob type in bit 30 and "compressed" in bit 31,
/// u32 offset, u32 stored length, u32 plaintext length. 48 bytes per blob, no per-entry overhead;
/// a 65,536-entry table of the first 16 bits of the id narrows every binary search.
final class IndexTable: @unchecked Sendable {
    static let recordSize = 48
    /// Where the records are: owned memory or a read-only mapping of the cache file.
    private let base: UnsafeRawPointer?
    let count: Int
    private var owner: Owner
    /// prefixStart[p] = first record whose id starts with 16-bit prefix p (65,537 entries).
    private let prefixStart: [UInt32]

    /// `anonymous`: an anonymous mapping of its own (tables made by merging), which can grow in place.
    enum Owner { case memory(UnsafeMutableRawPointer), mapping(UnsafeMutableRawPointer, Int), anonymous(UnsafeMutableRawPointer, Int), none }

    /// An empty table.
    init() { base = nil; count = 0; owner = .none; prefixStart = [UInt32](repeating: 0, count: 65_537) }

    /// Takes ownership of `count` sorted records at `pointer` (allocated with `allocate(count:)`).
    private init(records pointer: UnsafeMutableRawPointer?, count: Int, owner: Owner) {
        self.base = pointer.map { UnsafeRawPointer($0) }
        self.count = count
        self.owner = owner
        var starts = [UInt32](repeating: 0, count: 65_537)
        if let pointer {
            var r = 0
            for p in 0..<65_536 {
                starts[p] = UInt32(r)
                while r < count, Int(IndexTable.prefix(pointer + r * IndexTable.recordSize)) == p { r += 1 }
            }
            starts[65_536] = UInt32(count)
        }
        prefixStart = starts
    }

    /// A table over a mapped region (the cache file); `records` points into the mapping.
    convenience init(mapping: UnsafeMutableRawPointer, length: Int, records: UnsafeMutableRawPointer, count: Int) {
        self.init(records: records, count: count, owner: .mapping(mapping, length))
    }

    deinit {
        switch owner {
        case .memory(let p): p.deallocate()
        case .mapping(let p, let n), .anonymous(let p, let n): munmap(p, n)
        case .none: break
        }
    }

    /// `count` records' worth of anonymous memory (whole pages), or nil.
    private static func mapAnonymous(count: Int) -> (UnsafeMutableRawPointer, Int)? {
        let length = max(1, (count * recordSize + 4095) / 4096) * 4096
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return nil }
        return (p, length)
    }

    /// Compares the record at `p` with `id` (byte order = word order, records are big-endian).
    @inline(__always) static func compare(_ p: UnsafeRawPointer, _ id: BlobID) -> Int {
        let r = (UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                 UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                 UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
        let k = (id.w0, id.w1, id.w2, id.w3)
        return r == k ? 0 : (r < k ? -1 : 1)
    }

    /// Merges `extra` into this table's own memory, which it takes over: called only on a table
    /// nothing else references (`MemoryIndex.mergeRecent` checks), whose records are an anonymous
    /// mapping. The mapping grows with `mremap` (pages move, bytes are not copied) and the merge runs
    /// from the back, so the old and the new table never exist side by side: a backup of a million
    /// small files peaked at twice the table size (2 × 48 MB) during each merge before. Nil when it
    /// cannot (then `merged(with:)` makes a new table).
    func mergedInPlace(with extra: [(BlobID, MemoryIndex.Entry)]) -> IndexTable? {
        guard case .anonymous(let p, let length) = owner else { return nil }
        let fresh = extra.filter { lookup($0.0) == nil }.sorted { $0.0 < $1.0 }
        let total = count + fresh.count
        let needed = max(1, (total * IndexTable.recordSize + 4095) / 4096) * 4096
        var q = p, newLength = length
        if needed > length {
            // Room for a few more merges, so that not every one remaps.
            newLength = needed + needed / 8 / 4096 * 4096
            guard let r = kura_mremap(p, length, newLength), r != MAP_FAILED else { return nil }
            q = r
        }
        let size = IndexTable.recordSize
        var i = count - 1, j = fresh.count - 1, k = total - 1
        while j >= 0 {
            if i >= 0, IndexTable.compare(UnsafeRawPointer(q + i * size), fresh[j].0) > 0 {
                (q + k * size).copyMemory(from: q + i * size, byteCount: size)
                i -= 1
            } else {
                IndexTable.write(fresh[j].0, fresh[j].1, to: q + k * size)
                j -= 1
            }
            k -= 1
        }
        owner = .none  // the memory belongs to the new table now
        return IndexTable(records: q, count: total, owner: .anonymous(q, newLength))
    }

    static func allocate(count: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer.allocate(byteCount: max(1, count * recordSize), alignment: 8)
    }

    /// Builds a table from unsorted records (sorted here, duplicates keep the first).
    static func build(_ records: UnsafeMutableRawPointer, count: Int) -> IndexTable {
        // Sort an array of record indices by id, then gather.
        var order = Array(0..<count)
        order.sort { compare(records + $0 * recordSize, records + $1 * recordSize) < 0 }
        let out = allocate(count: count)
        var n = 0
        for i in order {
            let src = records + i * recordSize
            if n > 0, compare(out + (n - 1) * recordSize, src) == 0 { continue }
            (out + n * recordSize).copyMemory(from: src, byteCount: recordSize)
            n += 1
        }
        records.deallocate()
        return IndexTable(records: out, count: n, owner: .memory(out))
    }

    /// A new table with the records of `self` and `extra` (extra's entries lose to existing ones).
    func merged(with extra: [(BlobID, MemoryIndex.Entry)]) -> IndexTable {
        let sortedExtra = extra.sorted { $0.0 < $1.0 }
        let mapped = IndexTable.mapAnonymous(count: count + sortedExtra.count)
        let out = mapped?.0 ?? IndexTable.allocate(count: count + sortedExtra.count)
        var i = 0, j = 0, n = 0
        while i < count || j < sortedExtra.count {
            let takeOld: Bool
            if j >= sortedExtra.count { takeOld = true } else if i >= count { takeOld = false } else {
                let c = IndexTable.compare(record(i), sortedExtra[j].0)
                if c == 0 { j += 1; continue }
                takeOld = c < 0
            }
            if takeOld { (out + n * IndexTable.recordSize).copyMemory(from: record(i), byteCount: IndexTable.recordSize); i += 1 }
            else { IndexTable.write(sortedExtra[j].0, sortedExtra[j].1, to: out + n * IndexTable.recordSize); j += 1 }
            n += 1
        }
        return IndexTable(records: out, count: n, owner: mapped.map { .anonymous($0.0, $0.1) } ?? .memory(out))
    }

    @inline(__always) func record(_ i: Int) -> UnsafeRawPointer { base! + i * IndexTable.recordSize }

    @inline(__always) static func prefix(_ p: UnsafeRawPointer) -> UInt16 {
        UInt16(p.load(fromByteOffset: 0, as: UInt8.self)) << 8 | UInt16(p.load(fromByteOffset: 1, as: UInt8.self))
    }

    static func compare(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Int {
        Int(memcmp(a, b, 32))
    }

    static func write(_ id: BlobID, _ e: MemoryIndex.Entry, to p: UnsafeMutableRawPointer) {
        for (k, w) in [id.w0, id.w1, id.w2, id.w3].enumerated() { p.storeBytes(of: w.bigEndian, toByteOffset: k * 8, as: UInt64.self) }
        p.storeBytes(of: e.packAndFlags.littleEndian, toByteOffset: 32, as: UInt32.self)
        p.storeBytes(of: e.offset.littleEndian, toByteOffset: 36, as: UInt32.self)
        p.storeBytes(of: e.length.littleEndian, toByteOffset: 40, as: UInt32.self)
        p.storeBytes(of: e.rawLength.littleEndian, toByteOffset: 44, as: UInt32.self)
    }

    static func entry(at p: UnsafeRawPointer) -> MemoryIndex.Entry {
        MemoryIndex.Entry(packAndFlags: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 32, as: UInt32.self)),
                          offset: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 36, as: UInt32.self)),
                          length: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 40, as: UInt32.self)),
                          rawLength: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 44, as: UInt32.self)))
    }

    /// Binary search for `id`.
    func lookup(_ id: BlobID) -> MemoryIndex.Entry? {
        guard count > 0 else { return nil }
        // Records hold ids big-endian, so comparing words in order is comparing bytes (no key buffer:
        // a no-change backup of a million files makes a million look-ups).
        let p = Int(id.w0 >> 48)
        var lo = Int(prefixStart[p]), hi = Int(prefixStart[p + 1])
        while lo < hi {
            let mid = (lo + hi) / 2
            let c = IndexTable.compare(record(mid), id)
            if c == 0 { return IndexTable.entry(at: record(mid)) }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    func id(at i: Int) -> BlobID { BlobID(UnsafeRawBufferPointer(start: record(i), count: 32), at: 0) }

    /// The raw bytes of all records (for writing the cache file).
    var rawRecords: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count * IndexTable.recordSize) }
}
