import KuraTar
import Testing
import KuraTestSupport

/// Misuse of `TarWriter` and damaged input to `TarReader`.
@Suite struct TarErrorTests {
    static func file(_ name: String, size: Int64) -> TarEntry {
        TarEntry(path: bytes(name), size: size)
    }

    // MARK: Writer

    @Test func writingMoreThanSizeThrowsAndWritesNothing() throws {
        var output: [UInt8] = []
        let writer = TarWriter { output += $0 }
        try writer.writeHeader(TarErrorTests.file("a", size: 5))
        let tooMuch = #expect(throws: TarError.self) { try writer.writeContents(bytes("123456")) }
        #expect(tooMuch?.code == .contentsTooLong)
        try writer.writeContents(bytes("123"))
        #expect(throws: TarError.self) { try writer.writeContents(bytes("456")) }
        try writer.writeContents(bytes("45"))
        #expect(throws: TarError.self) { try writer.writeContents([0]) }
        try writer.writeContents([])  // zero bytes always fit
        try writer.finishEntry()
        try writer.finish()
        let read = try readArchive(output)
        #expect(read.map(\.contents) == [bytes("12345")])
    }

    @Test func finishingAnEntryShortThrows() throws {
        var output: [UInt8] = []
        let writer = TarWriter { output += $0 }
        try writer.writeHeader(TarErrorTests.file("a", size: 5))
        try writer.writeContents(bytes("123"))
        let short = #expect(throws: TarError.self) { try writer.finishEntry() }
        #expect(short?.code == .contentsTooShort)
        #expect(short?.description.contains("'a'") == true)
        // The entry stays open, so the caller can still complete it.
        try writer.writeContents(bytes("45"))
        try writer.finishEntry()
        try writer.finish()
        #expect(try readArchive(output).map(\.contents) == [bytes("12345")])
    }

    @Test func callsOutOfOrderThrowInvalidState() throws {
        let writer = TarWriter { _ in }
        func expectState(_ body: () throws -> Void) {
            let error = #expect(throws: TarError.self) { try body() }
            #expect(error?.code == .invalidState)
        }
        expectState { try writer.writeContents(bytes("x")) }
        expectState { try writer.finishEntry() }
        try writer.writeHeader(TarErrorTests.file("a", size: 1))
        expectState { try writer.writeHeader(TarErrorTests.file("b", size: 0)) }
        expectState { try writer.finish() }
        try writer.writeContents(bytes("x"))
        try writer.finishEntry()
        try writer.finish()
        expectState { try writer.finish() }
        expectState { try writer.writeHeader(TarErrorTests.file("c", size: 0)) }
    }

    struct Invalid: CustomTestStringConvertible, Sendable {
        var label: String
        var entry: TarEntry
        var testDescription: String { label }
    }

    static let invalidEntries: [Invalid] = [
        Invalid(label: "empty path", entry: TarEntry(path: [])),
        Invalid(label: "NUL in path", entry: TarEntry(path: [0x61, 0, 0x62])),
        Invalid(label: "negative size", entry: TarEntry(path: bytes("f"), size: -1)),
        Invalid(label: "size on a directory", entry: TarEntry(path: bytes("d"), kind: .directory, size: 1)),
        Invalid(label: "size on a hard link", entry: TarEntry(path: bytes("h"), kind: .hardLink, size: 1, linkTarget: bytes("f"))),
        Invalid(label: "symlink without target", entry: TarEntry(path: bytes("l"), kind: .symlink)),
        Invalid(label: "link target on a file", entry: TarEntry(path: bytes("f"), linkTarget: bytes("x"))),
        Invalid(label: "NUL in link target", entry: TarEntry(path: bytes("l"), kind: .symlink, linkTarget: [0x61, 0])),
        Invalid(label: "mode above 07777", entry: TarEntry(path: bytes("f"), mode: 0o10000)),
        Invalid(label: "a billion nanoseconds", entry: TarEntry(path: bytes("f"), modificationTime: (0, 1_000_000_000))),
        Invalid(label: "device numbers on a file", entry: TarEntry(path: bytes("f"), deviceMajor: 1)),
        Invalid(label: "NUL in user name", entry: TarEntry(path: bytes("f"), userName: "a\u{0}b")),
        Invalid(label: "empty xattr name", entry: TarEntry(path: bytes("f"), extendedAttributes: [.init(name: "", value: [])])),
    ]

    @Test(arguments: invalidEntries)
    func invalidEntriesAreRejected(_ invalid: Invalid) throws {
        var output: [UInt8] = []
        let writer = TarWriter { output += $0 }
        let error = #expect(throws: TarError.self) { try writer.writeHeader(invalid.entry) }
        #expect(error?.code == .invalidEntry)
        // Nothing was written and the writer is still usable.
        try writer.finish()
        #expect(output == [UInt8](repeating: 0, count: 1024))
    }

    struct SinkFailure: Error, Equatable {}

    @Test func sinkErrorsPropagateAndStopTheWriter() throws {
        let writer = TarWriter { _ in throw SinkFailure() }
        try writer.writeHeader(TarErrorTests.file("a", size: 100_000))
        #expect(throws: SinkFailure.self) { try writer.writeContents([UInt8](repeating: 1, count: 100_000)) }
        let error = #expect(throws: TarError.self) { try writer.finishEntry() }
        #expect(error?.code == .invalidState)
    }

    // MARK: Reader

    /// A small archive: a pax-headed file, then a plain file. Blocks: 0 pax header, 1 pax
    /// data, 2 "first", 3 its data, 4 "second", 5-6 its data, 7-8 end of archive.
    static func smallArchive() throws -> [UInt8] {
        try writeArchive([
            Member(entry: TarEntry(path: bytes("first"), modificationTime: (1, 5), size: 3), contents: bytes("abc")),
            Member(entry: TarEntry(path: bytes("second"), size: 600), contents: randomBytes(600, seed: 3)),
        ])
    }

    /// Recomputes the checksum of the header block at `offset`.
    static func reseal(_ archive: inout [UInt8], at offset: Int) {
        for index in 148..<156 { archive[offset + index] = 32 }
        let sum = archive[offset..<(offset + 512)].reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        let field = bytes(String(repeating: "0", count: 6 - digits.count) + digits) + [0, 32]
        archive.replaceSubrange((offset + 148)..<(offset + 156), with: field)
    }

    static func readError(_ archive: [UInt8], piece: Int = 100) -> TarError? {
        let reader = TarReader()
        do {
            var offset = 0
            while offset < archive.count {
                _ = try reader.feed(Array(archive[offset..<min(offset + piece, archive.count)]))
                offset += piece
            }
            try reader.finish()
            return nil
        } catch let error as TarError {
            // Errors are sticky.
            #expect(throws: error) { _ = try reader.feed([]) }
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func corruptedChecksumIsDetected() throws {
        var archive = try TarErrorTests.smallArchive()
        #expect(TarErrorTests.readError(archive) == nil)
        archive[4 * 512 + 1] ^= 0x01  // a bit of "second"'s name
        let error = TarErrorTests.readError(archive)
        #expect(error?.code == .badChecksum)
        #expect(error?.message.contains("offset 2048") == true)
    }

    @Test(arguments: [
        (0, "empty input"),
        (100, "inside the first header"),
        (1024 + 256, "inside the first entry's header"),
        (1536 + 2, "inside the first entry's contents"),
        (2048, "between entries"),
        (2560 + 600, "inside padding"),
        (3072, "inside the second entry's contents"),
        (3584, "after the last entry, no end marker"),
    ])
    func truncatedArchiveIsDetected(length: Int, label: String) throws {
        let archive = try TarErrorTests.smallArchive()
        let error = TarErrorTests.readError(Array(archive[0..<length]))
        #expect(error?.code == .truncated, "\(label)")
    }

    @Test func oneEndBlockIsEnough() throws {
        // GNU tar accepts a lone zero block at the end too (with a warning).
        #expect(try TarErrorTests.smallArchive().count == 9 * 512)
        let archive = try TarErrorTests.smallArchive()
        #expect(TarErrorTests.readError(Array(archive.dropLast(512))) == nil)
    }

    @Test func malformedPaxRecordIsDetected() throws {
        var archive = try TarErrorTests.smallArchive()
        #expect(archive[156] == UInt8(ascii: "x"))
        archive[512] = UInt8(ascii: "9")  // the first record's length no longer matches
        #expect(TarErrorTests.readError(archive)?.code == .malformedHeader)
    }

    @Test func garbageInANumericFieldIsDetected() throws {
        var archive = try TarErrorTests.smallArchive()
        archive[2048 + 124 + 5] = UInt8(ascii: "9")  // "second"'s size is not octal any more
        TarErrorTests.reseal(&archive, at: 2048)
        #expect(TarErrorTests.readError(archive)?.code == .malformedHeader)
    }

    @Test(arguments: ["S", "M", "Z"])
    func unsupportedEntryTypesAreRejected(typeflag: String) throws {
        var archive = try TarErrorTests.smallArchive()
        archive[2048 + 156] = UInt8(ascii: Unicode.Scalar(typeflag)!)
        TarErrorTests.reseal(&archive, at: 2048)
        #expect(TarErrorTests.readError(archive)?.code == .unsupported)
    }
}
