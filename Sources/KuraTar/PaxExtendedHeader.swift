/// The ordered `keyword=value` records of a pax extended header (typeflag `x` or `g`).
///
/// A record is `"<length> <keyword>=<value>\n"` where `<length>` counts the whole record,
/// its own digits included. Values are raw bytes (paths may be binary under
/// `hdrcharset=BINARY`; `SCHILY.xattr.*` values are always binary).
struct PaxExtendedHeader {
    /// One record.
    struct Record {
        var keyword: String
        var value: [UInt8]
    }

    /// The records in archive order.
    var records: [Record] = []

    /// The keyword prefix for extended attributes, as written by star and GNU tar.
    static let xattrPrefix = "SCHILY.xattr."
    /// The keyword prefix of GNU sparse-file records, which this package does not implement.
    static let gnuSparsePrefix = "GNU.sparse."

    var isEmpty: Bool { records.isEmpty }

    mutating func append(_ keyword: String, _ value: [UInt8]) {
        records.append(Record(keyword: keyword, value: value))
    }

    mutating func append(_ keyword: String, _ value: String) {
        append(keyword, Array(value.utf8))
    }

    /// Applies `other` on top of these records: a record replaces one with the same keyword
    /// (keeping its position), and a record with an empty value deletes it, as POSIX says;
    /// except that an extended attribute may legitimately have an empty value.
    mutating func merge(_ other: PaxExtendedHeader) {
        for record in other.records {
            let existing = records.firstIndex { $0.keyword == record.keyword }
            let deletes = record.value.isEmpty && !record.keyword.hasPrefix(PaxExtendedHeader.xattrPrefix)
            switch (existing, deletes) {
            case (let index?, true): records.remove(at: index)
            case (let index?, false): records[index].value = record.value
            case (nil, true): break
            case (nil, false): records.append(record)
            }
        }
    }

    // MARK: Encoding

    /// The header's data: all records, one after another.
    func encoded() -> [UInt8] {
        var data: [UInt8] = []
        for record in records {
            let keyword = Array(record.keyword.utf8)
            // " " + keyword + "=" + value + "\n", plus the length's own digits.
            let body = keyword.count + record.value.count + 3
            var digits = 1
            while decimalDigits(body + digits) != digits { digits += 1 }
            data.append(contentsOf: String(body + digits).utf8)
            data.append(UInt8(ascii: " "))
            data.append(contentsOf: keyword)
            data.append(UInt8(ascii: "="))
            data.append(contentsOf: record.value)
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }

    private func decimalDigits(_ value: Int) -> Int {
        String(value).utf8.count
    }

    /// The `mtime` value for a time: `SECONDS` or `SECONDS.NNNNNNNNN`, the exact decimal
    /// value of `seconds + nanoseconds / 10^9` (so `(-2, 500_000_000)` is `-1.500000000`).
    static func formatTime(seconds: Int64, nanoseconds: UInt32) -> String {
        if nanoseconds == 0 { return String(seconds) }
        if seconds >= 0 { return "\(seconds).\(nineDigits(nanoseconds))" }
        return "-\(-(seconds + 1)).\(nineDigits(1_000_000_000 - nanoseconds))"
    }

    private static func nineDigits(_ value: UInt32) -> String {
        let text = String(value)
        return String(repeating: "0", count: 9 - text.utf8.count) + text
    }

    /// The keyword for an extended attribute; `%` and `=` are escaped as GNU tar does.
    static func xattrKeyword(name: String) -> String {
        var escaped = ""
        for character in name.unicodeScalars {
            switch character {
            case "%": escaped += "%25"
            case "=": escaped += "%3D"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return xattrPrefix + escaped
    }

    // MARK: Decoding

    /// Parses a header's data. Parsing stops at a NUL where a record would start (padding).
    static func parse(_ data: [UInt8]) throws -> PaxExtendedHeader {
        var header = PaxExtendedHeader()
        var start = 0
        while start < data.count, data[start] != 0 {
            var index = start
            var length = 0
            while index < data.count, data[index] >= UInt8(ascii: "0"), data[index] <= UInt8(ascii: "9") {
                guard length < 100_000_000 else { throw malformed("record length overflows") }
                length = length * 10 + Int(data[index] - UInt8(ascii: "0"))
                index += 1
            }
            guard index > start, index < data.count, data[index] == UInt8(ascii: " ") else {
                throw malformed("record does not start with a length")
            }
            let end = start + length
            guard length > index - start + 1, end <= data.count, data[end - 1] == UInt8(ascii: "\n") else {
                throw malformed("record length \(length) does not match its contents")
            }
            let recordBody = (index + 1)..<(end - 1)
            guard let equals = data[recordBody].firstIndex(of: UInt8(ascii: "=")), equals > recordBody.lowerBound else {
                throw malformed("record has no keyword")
            }
            let keyword = String(decoding: data[recordBody.lowerBound..<equals], as: UTF8.self)
            header.append(keyword, Array(data[(equals + 1)..<recordBody.upperBound]))
            start = end
        }
        return header
    }

    private static func malformed(_ detail: String) -> TarError {
        TarError(.malformedHeader, "pax extended header: \(detail)")
    }

    /// Parses an unsigned decimal value such as `size` or `uid`.
    static func parseDecimal(_ value: [UInt8]) -> UInt64? {
        guard !value.isEmpty else { return nil }
        var result: UInt64 = 0
        for byte in value {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            result = sum
        }
        return result
    }

    /// Parses a time such as `1700000000`, `1700000000.5` or `-1.25` into whole seconds
    /// (rounded down) and non-negative nanoseconds; digits past the ninth are dropped.
    static func parseTime(_ value: [UInt8]) -> (seconds: Int64, nanoseconds: UInt32)? {
        var bytes = value[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        let dot = bytes.firstIndex(of: UInt8(ascii: "."))
        let wholePart = dot.map { bytes[bytes.startIndex..<$0] } ?? bytes
        guard let whole = parseDecimal(Array(wholePart)), whole <= UInt64(Int64.max) else { return nil }
        var fraction: UInt32 = 0
        if let dot {
            var scale: UInt32 = 100_000_000
            for byte in bytes[(dot + 1)...] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                fraction += UInt32(byte - UInt8(ascii: "0")) * scale
                scale /= 10
            }
        }
        if !negative { return (Int64(whole), fraction) }
        if fraction == 0 { return (-Int64(whole), 0) }
        return (-Int64(whole) - 1, 1_000_000_000 - fraction)
    }

    /// The attribute name in an `SCHILY.xattr.` keyword, undoing GNU tar's `%25`/`%3D` escapes.
    static func xattrName(keyword: String) -> String? {
        guard keyword.hasPrefix(xattrPrefix) else { return nil }
        let escaped = Array(keyword.utf8.dropFirst(xattrPrefix.utf8.count))
        var name: [UInt8] = []
        var index = 0
        while index < escaped.count {
            if escaped[index] == UInt8(ascii: "%"), index + 2 < escaped.count {
                let code = escaped[(index + 1)...(index + 2)].map { $0 | 0x20 }  // lowercase
                if code == Array("25".utf8) {
                    name.append(UInt8(ascii: "%")); index += 3; continue
                }
                if code == Array("3d".utf8) {
                    name.append(UInt8(ascii: "=")); index += 3; continue
                }
            }
            name.append(escaped[index])
            index += 1
        }
        return String(decoding: name, as: UTF8.self)
    }
}
