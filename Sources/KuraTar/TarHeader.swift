/// The layout of a 512-byte tar header block and the helpers that read and write its fields.
///
/// Offsets follow POSIX ustar. In GNU (`ustar  \0`) headers the bytes from 345 on hold
/// access/change times instead of a name prefix, so ``prefix`` is only read for POSIX magic.
enum TarHeader {
    static let blockSize = 512

    static let name = 0..<100
    static let mode = 100..<108
    static let uid = 108..<116
    static let gid = 116..<124
    static let size = 124..<136
    static let mtime = 136..<148
    static let checksum = 148..<156
    static let typeflag = 156
    static let linkname = 157..<257
    static let magic = 257..<263
    static let version = 263..<265
    static let uname = 265..<297
    static let gname = 297..<329
    static let devmajor = 329..<337
    static let devminor = 337..<345
    static let prefix = 345..<500

    /// `ustar\0` followed by version `00`: POSIX ustar and pax.
    static let posixMagic: [UInt8] = [0x75, 0x73, 0x74, 0x61, 0x72, 0x00, 0x30, 0x30]
    /// `ustar  \0`: the old GNU format.
    static let gnuMagic: [UInt8] = [0x75, 0x73, 0x74, 0x61, 0x72, 0x20, 0x20, 0x00]

    /// Typeflags of the entries and extension headers this package knows.
    enum Typeflag {
        static let regular = UInt8(ascii: "0")
        static let regularOld: UInt8 = 0
        static let hardLink = UInt8(ascii: "1")
        static let symlink = UInt8(ascii: "2")
        static let characterDevice = UInt8(ascii: "3")
        static let blockDevice = UInt8(ascii: "4")
        static let directory = UInt8(ascii: "5")
        static let fifo = UInt8(ascii: "6")
        static let contiguous = UInt8(ascii: "7")
        static let paxLocal = UInt8(ascii: "x")
        static let paxGlobal = UInt8(ascii: "g")
        static let gnuLongName = UInt8(ascii: "L")
        static let gnuLongLink = UInt8(ascii: "K")
        static let gnuDumpDirectory = UInt8(ascii: "D")
        static let gnuVolumeLabel = UInt8(ascii: "V")
        static let gnuSparse = UInt8(ascii: "S")
        static let gnuMultiVolume = UInt8(ascii: "M")
        static let gnuOldLongName = UInt8(ascii: "N")
    }

    // MARK: Writing

    /// The largest value an octal field of `width` bytes holds, keeping one byte for the NUL.
    static func maxOctal(width: Int) -> UInt64 {
        (1 << (3 * UInt64(width - 1))) - 1
    }

    /// Writes `value` as zero-padded octal digits followed by a NUL; the value must fit.
    static func writeOctal(_ value: UInt64, into block: inout [UInt8], _ field: Range<Int>) {
        precondition(value <= maxOctal(width: field.count), "octal value does not fit its field")
        var rest = value
        var index = field.upperBound - 2
        while index >= field.lowerBound {
            block[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest & 7)
            rest >>= 3
            index -= 1
        }
        block[field.upperBound - 1] = 0
    }

    /// Copies as many of `bytes` as fit into `field`; the rest of the field stays zero.
    static func writeBytes(_ bytes: some Collection<UInt8>, into block: inout [UInt8], _ field: Range<Int>) {
        var index = field.lowerBound
        for byte in bytes {
            if index == field.upperBound { break }
            block[index] = byte
            index += 1
        }
    }

    /// Fills in the checksum field (six octal digits, NUL, space) of a finished block.
    static func seal(_ block: inout [UInt8]) {
        let sum = checksums(of: block).unsigned
        writeOctal(UInt64(sum), into: &block, checksum.lowerBound..<(checksum.upperBound - 1))
        block[checksum.upperBound - 1] = UInt8(ascii: " ")
    }

    // MARK: Reading

    /// The header's byte sum with the checksum field counted as spaces, both as unsigned
    /// bytes (POSIX) and as signed bytes (some historic writers).
    static func checksums(of block: [UInt8]) -> (unsigned: Int64, signed: Int64) {
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for index in 0..<blockSize {
            let byte = checksum.contains(index) ? UInt8(ascii: " ") : block[index]
            unsigned += Int64(byte)
            signed += Int64(Int8(bitPattern: byte))
        }
        return (unsigned, signed)
    }

    /// Whether every byte of the block is zero (an end-of-archive block).
    static func isZeroBlock(_ block: [UInt8]) -> Bool {
        block.allSatisfy { $0 == 0 }
    }

    /// The bytes of a text field up to its first NUL.
    static func readBytes(_ block: [UInt8], _ field: Range<Int>) -> [UInt8] {
        let slice = block[field]
        if let end = slice.firstIndex(of: 0) {
            return Array(block[field.lowerBound..<end])
        }
        return Array(slice)
    }

    /// Parses a numeric field: octal digits (after optional spaces, ended by NULs or spaces;
    /// an all-NUL field is 0) or a
    /// GNU base-256 number (first byte `0x80` positive, `0xFF` negative).
    static func readNumber(_ block: [UInt8], _ field: Range<Int>, _ fieldName: String) throws -> Int64 {
        let first = block[field.lowerBound]
        if first & 0x80 != 0 {
            return try readBase256(block, field, fieldName)
        }
        var index = field.lowerBound
        while index < field.upperBound, block[index] == UInt8(ascii: " ") {
            index += 1
        }
        var value: Int64 = 0
        while index < field.upperBound {
            let byte = block[index]
            if byte == 0 || byte == UInt8(ascii: " ") { break }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else {
                throw TarError(.malformedHeader, "\(fieldName) field is not an octal number")
            }
            guard value <= Int64.max >> 3 else {
                throw TarError(.malformedHeader, "\(fieldName) field overflows")
            }
            value = value << 3 | Int64(byte - UInt8(ascii: "0"))
            index += 1
        }
        while index < field.upperBound {
            guard block[index] == 0 || block[index] == UInt8(ascii: " ") else {
                throw TarError(.malformedHeader, "\(fieldName) field has trailing garbage")
            }
            index += 1
        }
        return value
    }

    private static func readBase256(_ block: [UInt8], _ field: Range<Int>, _ fieldName: String) throws -> Int64 {
        let first = block[field.lowerBound]
        let negative = first & 0x40 != 0
        // For negative numbers accumulate the complement, giving -(value) - 1.
        var magnitude: UInt64 = UInt64(negative ? ~first & 0x7F : first & 0x7F)
        for index in (field.lowerBound + 1)..<field.upperBound {
            let byte = negative ? ~block[index] : block[index]
            guard magnitude <= UInt64(Int64.max) >> 8 else {
                throw TarError(.malformedHeader, "\(fieldName) field overflows")
            }
            magnitude = magnitude << 8 | UInt64(byte)
        }
        return negative ? -Int64(magnitude) - 1 : Int64(magnitude)
    }
}
