import Foundation
import KuraTar
import Testing
import KuraTestSupport

/// `TarReader` on archives from `TarWriter` and from GNU tar.
@Suite struct TarReaderTests {
    @Test(arguments: [(UInt64(1), 1_000), (2, 70_000), (3, 1_000_000)])
    func roundTripInRandomPieces(seed: UInt64, maxPiece: Int) throws {
        let archive = try SampleArchive.archive()
        let read = try readArchive(archive, seed: seed, maxPiece: maxPiece)
        try #require(read.count == SampleArchive.members.count)
        for (got, wrote) in zip(read, SampleArchive.members) {
            #expect(got.entry == wrote.entry, "\(String(decoding: wrote.entry.path, as: UTF8.self))")
            #expect(got.contents == wrote.contents, "\(String(decoding: wrote.entry.path, as: UTF8.self))")
        }
    }

    @Test func roundTripOneByteAtATime() throws {
        let members = SampleArchive.members.filter { $0.contents.count < 1000 }
        let archive = try writeArchive(members, piece: 3)
        let reader = TarReader()
        var events: [TarReader.Event] = []
        for byte in archive { events += try reader.feed([byte]) }
        try reader.finish()
        let read = try KuraTarTests.members(from: events)
        #expect(read.map(\.entry) == members.map(\.entry))
        #expect(read.map(\.contents) == members.map(\.contents))
    }

    // MARK: Archives made by GNU tar

    /// What the reader should report for one member of the GNU-made tree.
    struct Expected {
        var kind: TarEntry.Kind
        var mode: UInt32
        var seconds: Int64
        var nanoseconds: UInt32
        var contents: [UInt8] = []
        var linkTarget: [UInt8] = []
    }

    static let longName = "top/" + String(repeating: "n", count: 150) + ".txt"
    static let longTarget = "../" + String(repeating: "t", count: 120)
    static let randomContents = randomBytes(1024 * 1024 + 123, seed: 9)
    static let badName: [UInt8] = bytes("top/bad-") + [0xFF] + bytes(".txt")

    /// Builds a tree under `root/top` with every kind GNU tar archives from disk.
    static func makeTree(in root: String, xattrs: Bool) throws -> [[UInt8]: Expected] {
        func at(_ path: [UInt8]) -> [CChar] { RawFileSystem.path(root, path) }
        var expected: [[UInt8]: Expected] = [:]
        func file(_ name: [UInt8], _ contents: [UInt8], mode: UInt32, _ seconds: Int64, _ nanoseconds: UInt32) throws {
            try RawFileSystem.write(at(name), contents)
            try RawFileSystem.setMode(at(name), mode_t(mode))
            try RawFileSystem.setTimes(at(name), seconds: seconds, nanoseconds: Int(nanoseconds))
            expected[name] = Expected(kind: .file, mode: mode, seconds: seconds, nanoseconds: nanoseconds, contents: contents)
        }
        try RawFileSystem.makeDirectory(at(bytes("top")), mode: 0o750)
        try file(bytes("top/file.txt"), bytes("hello gnu\n"), mode: 0o640, 1_700_000_000, 123_456_789)
        try file(bytes("top/empty"), [], mode: 0o600, 1_700_000_001, 0)
        try file(bytes("top/random.bin"), randomContents, mode: 0o644, 1_700_000_002, 500)
        try file(bytes(longName), bytes("long\n"), mode: 0o644, 1_700_000_003, 0)
        try file(bytes("top/日本語.txt"), bytes("にほん\n"), mode: 0o644, 1_700_000_004, 0)
        try file(badName, bytes("bad\n"), mode: 0o644, 1_700_000_005, 0)
        try RawFileSystem.makeHardLink(at(bytes("top/hard")), to: at(bytes("top/file.txt")))
        expected[bytes("top/hard")] = Expected(kind: .hardLink, mode: 0o640, seconds: 1_700_000_000,
                                               nanoseconds: 123_456_789, linkTarget: bytes("top/file.txt"))
        for (name, target) in [("top/link", "file.txt"), ("top/longlink", longTarget)] {
            try RawFileSystem.makeSymlink(at(bytes(name)), target: bytes(target))
            try RawFileSystem.setTimes(at(bytes(name)), seconds: 1_700_000_006, nanoseconds: 7)
            expected[bytes(name)] = Expected(kind: .symlink, mode: 0o777, seconds: 1_700_000_006, nanoseconds: 7,
                                             linkTarget: bytes(target))
        }
        try RawFileSystem.makeFifo(at(bytes("top/fifo")), mode: 0o600)
        try RawFileSystem.setTimes(at(bytes("top/fifo")), seconds: 1_700_000_008, nanoseconds: 0)
        expected[bytes("top/fifo")] = Expected(kind: .fifo, mode: 0o600, seconds: 1_700_000_008, nanoseconds: 0)
        if xattrs {
            try RawFileSystem.setXattr(root + "/top/file.txt", "user.kura", [0, 1, 2, 0xFF])
        }
        try RawFileSystem.setTimes(at(bytes("top")), seconds: 1_700_000_100, nanoseconds: 5)
        expected[bytes("top")] = Expected(kind: .directory, mode: 0o750, seconds: 1_700_000_100, nanoseconds: 5)
        return expected
    }

    /// Archives the tree with GNU tar `options` and returns the archive bytes and expectations.
    static func gnuArchive(_ options: [String], xattrs: Bool = false) throws -> (archive: [UInt8], expected: [[UInt8]: Expected]) {
        let scratch = try TemporaryFolder("kuratar")
        defer { scratch.remove() }
        let expected = try makeTree(in: scratch.path, xattrs: xattrs)
        let archivePath = scratch.file("gnu.tar")
        let result = try run(["tar"] + options + ["--sort=name", "--owner=kura:3000000", "--group=kura-group:3000001",
                                                  "-cf", archivePath, "-C", scratch.path, "top"])
        try #require(result.status == 0, "tar -c failed: \(result.err)")
        return (Array(try Data(contentsOf: URL(fileURLWithPath: archivePath))), expected)
    }

    static func check(_ read: [Member], _ expected: [[UInt8]: Expected], nanoseconds: Bool) {
        #expect(read.count == expected.count)
        #expect(Set(read.map(\.entry.path)) == Set(expected.keys))
        for member in read {
            let entry = member.entry
            let name = String(decoding: entry.path, as: UTF8.self)
            guard let want = expected[entry.path] else { continue }
            #expect(entry.kind == want.kind, "\(name)")
            #expect(entry.mode == want.mode, "\(name)")
            #expect(entry.modificationSeconds == want.seconds, "\(name)")
            #expect(entry.modificationNanoseconds == (nanoseconds ? want.nanoseconds : 0), "\(name)")
            #expect(entry.uid == 3_000_000 && entry.gid == 3_000_001, "\(name)")
            #expect(entry.userName == "kura" && entry.groupName == "kura-group", "\(name)")
            #expect(entry.size == Int64(want.contents.count), "\(name)")
            #expect(member.contents == want.contents, "\(name)")
            #expect(entry.linkTarget == want.linkTarget, "\(name)")
        }
    }

    @Test func readsGNUFormatWithLongNamesAndBase256() throws {
        let (archive, expected) = try TarReaderTests.gnuArchive(["--format=gnu"])
        // The long name and long link target need 'L' and 'K' records; uid 3000000 needs base-256.
        let blocks = stride(from: 0, to: archive.count, by: 512).map { archive[$0..<($0 + 512)] }
        let longLinks = blocks.filter { $0.starts(with: bytes("././@LongLink")) }.map { $0[$0.startIndex + 156] }
        #expect(longLinks.contains(UInt8(ascii: "L")) && longLinks.contains(UInt8(ascii: "K")))
        #expect(blocks.contains { $0[$0.startIndex + 108] == 0x80 })
        let read = try readArchive(archive, seed: 11, maxPiece: 3000)
        TarReaderTests.check(read, expected, nanoseconds: false)
    }

    @Test func readsGNUFormatNegativeBase256Time() throws {
        let scratch = try TemporaryFolder("kuratar")
        defer { scratch.remove() }
        try RawFileSystem.write(RawFileSystem.path(scratch.path, bytes("old")), bytes("old\n"))
        let archivePath = scratch.file("old.tar")
        let result = try run(["tar", "--format=gnu", "--mtime=@-1000000", "-cf", archivePath, "-C", scratch.path, "old"])
        try #require(result.status == 0, "tar -c failed: \(result.err)")
        let read = try readArchive(Array(try Data(contentsOf: URL(fileURLWithPath: archivePath))))
        try #require(read.count == 1)
        #expect(read[0].entry.modificationTime == (-1_000_000, 0))
        #expect(read[0].contents == bytes("old\n"))
    }

    @Test func readsPOSIXFormatWithNanosecondsAndXattrs() throws {
        let xattrs = RawFileSystem.supportsUserXattrs
        let (archive, expected) = try TarReaderTests.gnuArchive(
            ["--format=posix"] + (xattrs ? ["--xattrs", "--xattrs-include=user.*"] : []), xattrs: xattrs)
        let read = try readArchive(archive, seed: 12, maxPiece: 100_000)
        TarReaderTests.check(read, expected, nanoseconds: true)
        if xattrs {
            let file = try #require(read.first { $0.entry.path == bytes("top/file.txt") })
            #expect(file.entry.extendedAttributes == [.init(name: "user.kura", value: [0, 1, 2, 0xFF])])
        }
    }

    @Test func readsGunzippedTarGz() throws {
        let scratch = try TemporaryFolder("kuratar")
        defer { scratch.remove() }
        let expected = try TarReaderTests.makeTree(in: scratch.path, xattrs: false)
        let gzPath = scratch.file("legacy.tar.gz")
        let created = try run(["tar", "--sort=name", "--owner=kura:3000000", "--group=kura-group:3000001",
                               "-czf", gzPath, "-C", scratch.path, "top"])
        try #require(created.status == 0, "tar -czf failed: \(created.err)")
        let gunzipped = try run(["gzip", "-dc", gzPath])
        try #require(gunzipped.status == 0, "gzip -dc failed: \(gunzipped.err)")
        let archive = Array(gunzipped.stdout)
        #expect(archive.count % 10240 == 0)  // GNU tar pads to its record size after the end marker
        let read = try readArchive(archive, seed: 13, maxPiece: 65536)
        TarReaderTests.check(read, expected, nanoseconds: false)
    }
}
