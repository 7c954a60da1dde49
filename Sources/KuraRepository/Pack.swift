import KuraCrypto

/// What a blob holds.
public enum BlobType: UInt8, Sendable, Codable, CustomStringConvertible {
    /// A chunk of file or stream content.
    case data = 0
    /// A directory (an encoded `Tree`).
    case tree = 1
    public var description: String { self == .data ? "data" : "tree" }
}

/// One blob inside a pack, as listed by the pack header and the index.
public struct PackEntry: Hashable, Sendable {
    public var id: BlobID
    public var type: BlobType
    /// True when the plaintext was zstd-compressed before encryption.
    public var compressed: Bool
    /// Byte offset of the sealed blob in the pack.
    public var offset: UInt32
    /// Length of the sealed blob (nonce + ciphertext + tag).
    public var length: UInt32
    /// Length of the plaintext.
    public var rawLength: UInt32

    public init(id: BlobID, type: BlobType, compressed: Bool, offset: UInt32, length: UInt32, rawLength: UInt32) {
        self.id = id; self.type = type; self.compressed = compressed; self.offset = offset; self.length = length; self.rawLength = rawLength
    }
}

/// Pack layout (docs/design.md): `blob₁ … blobₙ ‖ seal(header) ‖ u32le(len(seal(header)))`.
/// The header lists every blob (type, flags, sealed length, plaintext length, id) in order, so the
/// index can be rebuilt from the packs alone.
public enum Pack {
    static let headerMagic: [UInt8] = Array("KPK1".utf8)
    /// Bytes per header entry: type, flags, length, raw length, id.
    static let headerEntrySize = 1 + 1 + 4 + 4 + 32

    /// The object key of a pack.
    public static func key(_ id: BlobID) -> String { "data/\(id.hex.prefix(2))/\(id.hex)" }

    /// Encodes the plaintext header.
    static func encodeHeader(_ entries: [PackEntry]) -> [UInt8] {
        var w = BinaryWriter(capacity: 8 + entries.count * headerEntrySize)
        w.raw(headerMagic)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.u8(e.type.rawValue); w.u8(e.compressed ? 1 : 0); w.u32(e.length); w.u32(e.rawLength); w.id(e.id)
        }
        return w.bytes
    }

    /// Parses a pack's trailer and header. `tail` are the last bytes of the pack (at least the sealed
    /// header and its length field); `packSize` is the whole pack's size.
    public static func parseHeader(tail: [UInt8], packSize: Int, key: [UInt8], what: String) throws -> [PackEntry] {
        guard tail.count >= 4 else { throw KuraError(.corrupt, "\(what) is too short to be a pack") }
        let sealedLength = tail.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: tail.count - 4, as: UInt32.self))) }
        guard sealedLength + 4 <= tail.count, sealedLength >= AESGCM.overhead else {
            throw KuraError(.corrupt, "\(what) has a header length (\(sealedLength)) that does not fit the pack")
        }
        let sealed = Array(tail[(tail.count - 4 - sealedLength)..<(tail.count - 4)])
        let plain: [UInt8]
        do { plain = try AESGCM.open(sealed, key: key) } catch {
            throw KuraError(.corrupt, "\(what): the pack header failed authentication (damaged, or not written with this repository's key)")
        }
        var r = BinaryReader(plain, what: "header of \(what)")
        guard try r.raw(4) == headerMagic else { throw KuraError(.corrupt, "\(what) has an unknown pack header format") }
        let count = Int(try r.u32())
        var entries: [PackEntry] = []
        entries.reserveCapacity(count)
        var offset: UInt64 = 0
        for _ in 0..<count {
            guard let type = BlobType(rawValue: try r.u8()) else { throw KuraError(.corrupt, "\(what) lists a blob of unknown type") }
            let flags = try r.u8()
            let length = try r.u32(), raw = try r.u32()
            let id = try r.id()
            entries.append(PackEntry(id: id, type: type, compressed: flags & 1 != 0, offset: UInt32(offset), length: length, rawLength: raw))
            offset += UInt64(length)
        }
        try r.expectEnd()
        guard offset + UInt64(sealedLength) + 4 == UInt64(packSize) else {
            throw KuraError(.corrupt, "\(what): blobs (\(offset) bytes) and header (\(sealedLength + 4) bytes) do not add up to the pack size \(packSize)")
        }
        return entries
    }

    /// Largest sealed header to read in one go when parsing a pack from its end.
    static func tailReadSize(packSize: Int) -> Int { min(packSize, 64 * 1024) }
}

/// Accumulates sealed blobs of one type into a pack, hashing them as they are appended: the pack's
/// name (SHA-256 of all its bytes) is ready when the pack is, without a second pass over 16 MiB that
/// has long left the CPU cache. Not thread-safe: one task at a time appends (the repository's pack
/// gate); `@unchecked Sendable` because it moves between those tasks.
struct PackBuilder: @unchecked Sendable {
    let type: BlobType
    var bytes: [UInt8] = []
    var entries: [PackEntry] = []
    /// SHA-256 of `bytes` so far. A reference: copies of a builder share it, so only one copy may be
    /// appended to (the repository keeps exactly one).
    private let hasher = SHA256Hasher()

    init(type: BlobType, capacity: Int) { self.type = type; bytes.reserveCapacity(capacity) }

    mutating func add(id: BlobID, compressed: Bool, rawLength: Int, sealed: [UInt8]) {
        entries.append(PackEntry(id: id, type: type, compressed: compressed, offset: UInt32(bytes.count),
                                 length: UInt32(sealed.count), rawLength: UInt32(rawLength)))
        // Hash from the blob just sealed (still in cache), then copy it in.
        hasher.update(sealed)
        bytes.append(contentsOf: sealed)
    }

    /// The finished pack: its id (SHA-256 of all bytes), bytes and entries.
    consuming func finish(key: [UInt8]) throws -> (id: BlobID, bytes: [UInt8], entries: [PackEntry]) {
        var out = bytes
        bytes = []
        let header = try AESGCM.seal(Pack.encodeHeader(entries), key: key)
        let trailer = withUnsafeBytes(of: UInt32(header.count).littleEndian) { Array($0) }
        out.append(contentsOf: header)
        out.append(contentsOf: trailer)
        hasher.update(header)
        hasher.update(trailer)
        return (BlobID(bytes: hasher.finalize()), out, entries)
    }
}
