/// A 32-byte SHA-256 identifier: of a blob's plaintext (chunks, trees) or of a stored file's bytes
/// (packs, index files, snapshots, keys).
///
/// Stored as four machine words so that hashing and comparison are cheap in the in-memory index.
public struct BlobID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// Creates an id from exactly 32 bytes.
    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 32, "a BlobID is 32 bytes")
        // Arrays and slices (every hot caller: digests, decoded records) load four words directly.
        if let id = bytes.withContiguousStorageIfAvailable({ BlobID(UnsafeRawBufferPointer($0), at: 0) }) { self = id; return }
        var words: [UInt64] = [0, 0, 0, 0]
        for (i, b) in bytes.enumerated() { words[i / 8] = (words[i / 8] << 8) | UInt64(b) }
        (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
    }

    /// Reads 32 bytes at `offset` of a raw buffer.
    public init(_ raw: UnsafeRawBufferPointer, at offset: Int) {
        func word(_ o: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + o, as: UInt64.self)) }
        (w0, w1, w2, w3) = (word(0), word(8), word(16), word(24))
    }

    /// Parses 64 hex digits; nil for anything else.
    public init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// The 32 bytes, big-endian word order (the same order as the hex form).
    public var bytes: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        return out
    }

    /// Appends the 32 bytes to `out`.
    public func append(to out: inout [UInt8]) {
        for w in [w0, w1, w2, w3] { withUnsafeBytes(of: w.bigEndian) { out.append(contentsOf: $0) } }
    }

    public var hex: String { Hex.encode(bytes) }
    /// The first 8 hex digits, as shown to people.
    public var short: String { String(hex.prefix(8)) }
    public var description: String { hex }

    public static func < (a: BlobID, b: BlobID) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }
}

/// Lower-case hexadecimal encoding.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8](); out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo); i += 2
        }
        return out
    }
}
