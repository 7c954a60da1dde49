import Foundation
@testable import KuraTar
import Testing
import KuraTestSupport

/// Format details of `TarWriter` output: buffering, header layout and when pax records appear.
@Suite struct TarWriterTests {
    @Test func sinkReceives64KiBChunks() throws {
        var chunks: [[UInt8]] = []
        let writer = TarWriter { chunks.append($0) }
        for member in SampleArchive.members {
            try writer.writeHeader(member.entry)
            // Odd-sized pieces, so chunk boundaries never line up with the input.
            var offset = 0
            while offset < member.contents.count {
                let end = min(offset + 12_345, member.contents.count)
                try member.contents.withUnsafeBytes { try writer.writeContents(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
                offset = end
            }
            try writer.finishEntry()
        }
        // Until finish() the sink only ever sees full chunks.
        #expect(!chunks.isEmpty && chunks.allSatisfy { $0.count == 65536 })
        try writer.finish()
        #expect(chunks.dropLast().allSatisfy { $0.count == 65536 })
        #expect(chunks.last.map { $0.count > 0 && $0.count <= 65536 } == true)
        let joined = chunks.flatMap { $0 }
        #expect(chunks.count == (joined.count + 65535) / 65536)
        #expect(joined.count % 512 == 0)
        #expect(joined == (try SampleArchive.archive()))
    }

    @Test func plainEntryIsOneUstarBlock() throws {
        let archive = try writeArchive([Member(
            entry: TarEntry(path: bytes("dir/a.txt"), mode: 0o640, uid: 1000, gid: 100, userName: "alice",
                            groupName: "users", modificationTime: (1_700_000_000, 0), size: 5),
            contents: bytes("hello"))])
        #expect(archive.count == 512 + 512 + 1024)
        let header = Array(archive[0..<512])
        func field(_ range: Range<Int>) -> [UInt8] { Array(header[range]) }
        #expect(field(0..<10) == bytes("dir/a.txt") + [0])
        #expect(field(100..<108) == bytes("0000640") + [0])
        #expect(field(108..<116) == bytes("0001750") + [0])
        #expect(field(116..<124) == bytes("0000144") + [0])
        #expect(field(124..<136) == bytes("00000000005") + [0])
        #expect(field(136..<148) == bytes("14524770400") + [0])
        #expect(header[156] == UInt8(ascii: "0"))
        #expect(field(257..<265) == bytes("ustar") + [0] + bytes("00"))
        #expect(field(265..<271) == bytes("alice") + [0])
        #expect(field(297..<303) == bytes("users") + [0])
        // Checksum: six octal digits, NUL, space; the sum with the field read as spaces.
        let sum = header.enumerated().reduce(0) { $0 + Int((148..<156).contains($1.offset) ? 32 : $1.element) }
        let digits = String(sum, radix: 8)
        #expect(field(148..<156) == bytes(String(repeating: "0", count: 6 - digits.count) + digits) + [0, 32])
        #expect(Array(archive[512..<517]) == bytes("hello"))
        #expect(archive[517...].allSatisfy { $0 == 0 })
    }

    /// An entry and the pax keywords it needs.
    struct PaxCase: CustomTestStringConvertible, Sendable {
        var label: String
        var entry: TarEntry
        var keywords: [String]
        var testDescription: String { label }
    }

    static func entry(_ path: String = "f", _ kind: TarEntry.Kind = .file, change: (inout TarEntry) -> Void = { _ in }) -> TarEntry {
        var entry = TarEntry(path: bytes(path), kind: kind)
        change(&entry)
        return entry
    }

    static let paxCases: [PaxCase] = {
        let p = String(repeating: "p", count: 155), n = String(repeating: "n", count: 100)
        return [
            PaxCase(label: "100-byte name", entry: entry(String(repeating: "a", count: 100)), keywords: []),
            PaxCase(label: "101-byte name, no slash", entry: entry(String(repeating: "a", count: 101)), keywords: ["path"]),
            PaxCase(label: "256 bytes split 155/100", entry: entry(p + "/" + n), keywords: []),
            PaxCase(label: "prefix 156", entry: entry("q" + p + "/" + n), keywords: ["path"]),
            PaxCase(label: "name part 101", entry: entry("d/" + n + "n"), keywords: ["path"]),
            PaxCase(label: "directory of 100 gets 101 with slash",
                    entry: entry(String(repeating: "d", count: 100), .directory), keywords: ["path"]),
            PaxCase(label: "newline is ASCII", entry: entry("a\nb"), keywords: []),
            PaxCase(label: "UTF-8 name", entry: entry("café"), keywords: ["path"]),
            PaxCase(label: "non-UTF-8 name", entry: { var e = entry(); e.path = [0x61, 0xFF]; return e }(),
                    keywords: ["hdrcharset", "path"]),
            PaxCase(label: "100-byte link", entry: entry("l", .symlink) { $0.linkTarget = bytes(String(repeating: "t", count: 100)) },
                    keywords: []),
            PaxCase(label: "101-byte link", entry: entry("l", .symlink) { $0.linkTarget = bytes(String(repeating: "t", count: 101)) },
                    keywords: ["linkpath"]),
            PaxCase(label: "non-UTF-8 hard link", entry: entry("h", .hardLink) { $0.linkTarget = [0xC0] },
                    keywords: ["hdrcharset", "linkpath"]),
            PaxCase(label: "size 8 GiB - 1", entry: entry { $0.size = 0o77777777777 }, keywords: []),
            PaxCase(label: "size 8 GiB", entry: entry { $0.size = 0o77777777777 + 1 }, keywords: ["size"]),
            PaxCase(label: "uid 0o7777777", entry: entry { $0.uid = 0o7777777; $0.gid = 0o7777777 }, keywords: []),
            PaxCase(label: "uid/gid 0o10000000", entry: entry { $0.uid = 0o10000000; $0.gid = .max },
                    keywords: ["uid", "gid"]),
            PaxCase(label: "largest octal mtime", entry: entry { $0.modificationSeconds = 0o77777777777 }, keywords: []),
            PaxCase(label: "mtime past octal", entry: entry { $0.modificationSeconds = 0o77777777777 + 1 }, keywords: ["mtime"]),
            PaxCase(label: "negative mtime", entry: entry { $0.modificationSeconds = -1 }, keywords: ["mtime"]),
            PaxCase(label: "1 ns", entry: entry { $0.modificationNanoseconds = 1 }, keywords: ["mtime"]),
            PaxCase(label: "31-byte names", entry: entry {
                $0.userName = String(repeating: "u", count: 31); $0.groupName = String(repeating: "g", count: 31)
            }, keywords: []),
            PaxCase(label: "32-byte user", entry: entry { $0.userName = String(repeating: "u", count: 32) }, keywords: ["uname"]),
            PaxCase(label: "non-ASCII group", entry: entry { $0.groupName = "günter" }, keywords: ["gname"]),
            PaxCase(label: "device 0o7777777", entry: entry("c", .characterDevice) { $0.deviceMajor = 0o7777777; $0.deviceMinor = 0o7777777 },
                    keywords: []),
            PaxCase(label: "device past octal", entry: entry("b", .blockDevice) { $0.deviceMajor = 0o10000000; $0.deviceMinor = .max },
                    keywords: ["SCHILY.devmajor", "SCHILY.devminor"]),
            PaxCase(label: "xattrs", entry: entry { $0.extendedAttributes = [.init(name: "user.b", value: [0]), .init(name: "user.a", value: [])] },
                    keywords: ["SCHILY.xattr.user.b", "SCHILY.xattr.user.a"]),
        ]
    }()

    @Test(arguments: paxCases)
    func paxRecordsOnlyWhenNeeded(_ paxCase: PaxCase) throws {
        let header = try TarEntryEncoder.encode(paxCase.entry)
        if paxCase.keywords.isEmpty {
            #expect(header.count == 512)
            #expect(header[156] == TarEntryEncoder.typeflag(for: paxCase.entry.kind))
        } else {
            #expect(header[156] == UInt8(ascii: "x"))
            #expect(header.starts(with: bytes("PaxHeaders/")))
            let size = Int(String(decoding: header[124..<135], as: UTF8.self), radix: 8)!
            let records = try PaxExtendedHeader.parse(Array(header[512..<(512 + size)]))
            #expect(records.records.map(\.keyword) == paxCase.keywords)
        }
        // The reader recovers the entry from the header alone (contents are not needed for that).
        let events = try TarReader().feed(header)
        #expect(events.first == .header(paxCase.entry))
    }

    @Test func paxRecordLengthsCountTheirOwnDigits() throws {
        var header = PaxExtendedHeader()
        header.append("path", bytes("a"))
        #expect(header.encoded() == bytes("9 path=a\n"))
        header = PaxExtendedHeader()
        header.append("path", bytes("ab"))
        #expect(header.encoded() == bytes("11 path=ab\n"))
        for length in 0..<1100 {
            var record = PaxExtendedHeader()
            record.append("comment", [UInt8](repeating: UInt8(ascii: "v"), count: length))
            let data = record.encoded()
            let declared = Int(String(decoding: data.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self))
            #expect(declared == data.count, "value length \(length)")
            #expect(try PaxExtendedHeader.parse(data).records.first?.value.count == length)
        }
    }

    @Test func mtimeRecordsAreExactDecimals() {
        #expect(PaxExtendedHeader.formatTime(seconds: 1_700_000_000, nanoseconds: 5) == "1700000000.000000005")
        #expect(PaxExtendedHeader.formatTime(seconds: -2, nanoseconds: 500_000_000) == "-1.500000000")
        #expect(PaxExtendedHeader.formatTime(seconds: -1, nanoseconds: 1) == "-0.999999999")
        #expect(PaxExtendedHeader.formatTime(seconds: -5, nanoseconds: 0) == "-5")
        for (seconds, nanoseconds) in [(Int64(0), UInt32(1)), (-1, 1), (-2, 500_000_000), (12, 340_000_000), (-7, 0)] {
            let text = PaxExtendedHeader.formatTime(seconds: seconds, nanoseconds: nanoseconds)
            #expect(PaxExtendedHeader.parseTime(bytes(text)).map { [$0.seconds, Int64($0.nanoseconds)] }
                    == [seconds, Int64(nanoseconds)], "\(text)")
        }
        #expect(PaxExtendedHeader.parseTime(bytes("1700000000.25")).map { $0.nanoseconds } == 250_000_000)
        #expect(PaxExtendedHeader.parseTime(bytes("1.1234567891")).map { $0.nanoseconds } == 123_456_789)
        #expect(PaxExtendedHeader.parseTime(bytes("1.2x")) == nil)
    }
}
