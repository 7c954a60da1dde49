/// Little-endian binary writer used by the pack header, index and tree encodings.
struct BinaryWriter {
    var bytes: [UInt8] = []
    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func id(_ v: BlobID) { v.append(to: &bytes) }
    mutating func raw(_ v: [UInt8]) { bytes.append(contentsOf: v) }
    /// A byte string with a 32-bit length prefix.
    mutating func data(_ v: [UInt8]) { u32(UInt32(v.count)); bytes.append(contentsOf: v) }
    /// A short byte string with a 16-bit length prefix.
    mutating func shortData(_ v: [UInt8]) { u16(UInt16(min(v.count, Int(UInt16.max)))); bytes.append(contentsOf: v.prefix(Int(UInt16.max))) }
}

/// Bounds-checked little-endian reader: every read past the end throws `KuraError(.corrupt)` naming `what`.
struct BinaryReader {
    let bytes: [UInt8]
    var offset = 0
    let what: String
    init(_ bytes: [UInt8], what: String) { self.bytes = bytes; self.what = what }

    var isAtEnd: Bool { offset == bytes.count }

    private mutating func take(_ n: Int) throws -> Int {
        guard n >= 0, bytes.count - offset >= n else {
            throw KuraError(.corrupt, "\(what) is truncated or malformed (needed \(n) bytes at offset \(offset) of \(bytes.count))")
        }
        defer { offset += n }
        return offset
    }
    private mutating func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let at = try take(MemoryLayout<T>.size)
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
    }
    mutating func u8() throws -> UInt8 { try load(UInt8.self) }
    mutating func u16() throws -> UInt16 { try load(UInt16.self) }
    mutating func u32() throws -> UInt32 { try load(UInt32.self) }
    mutating func u64() throws -> UInt64 { try load(UInt64.self) }
    mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }
    mutating func id() throws -> BlobID {
        let at = try take(32)
        return bytes.withUnsafeBytes { BlobID($0, at: at) }
    }
    mutating func raw(_ n: Int) throws -> [UInt8] { let at = try take(n); return Array(bytes[at..<at + n]) }
    mutating func data() throws -> [UInt8] { try raw(Int(try u32())) }
    mutating func shortData() throws -> [UInt8] { try raw(Int(try u16())) }
    func expectEnd() throws {
        guard isAtEnd else { throw KuraError(.corrupt, "\(what) has \(bytes.count - offset) unexpected trailing bytes") }
    }
}
