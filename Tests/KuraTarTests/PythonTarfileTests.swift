import Foundation
import KuraTar
import Testing
import KuraTestSupport

/// python3's `tarfile` module reading archives written by `TarWriter`, and `TarReader`
/// reading archives written by `tarfile`.
@Suite struct PythonTarfileTests {
    /// What `tarfile` reports for one member; byte strings are hex.
    struct PythonMember: Decodable {
        var name: String
        var type: String
        var size: Int64
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var uname: String
        var gname: String
        var linkname: String
        var devmajor: UInt32
        var devminor: UInt32
        var pax: [String: String]
        var data: String?
    }

    static let lister = """
        import json, os, sys, tarfile
        def raw(text): return text.encode('utf-8', 'surrogateescape').hex()
        out = []
        with tarfile.open(sys.argv[1]) as archive:
            for m in archive:
                data = None
                if m.isreg() and m.size < 100000:
                    data = archive.extractfile(m).read().hex()
                out.append(dict(name=os.fsencode(m.name).hex(), type=m.type.decode(), size=m.size, mode=m.mode,
                    uid=m.uid, gid=m.gid, uname=m.uname, gname=m.gname, linkname=raw(m.linkname),
                    devmajor=m.devmajor, devminor=m.devminor, data=data,
                    pax={k: raw(v) for k, v in m.pax_headers.items()}))
        print(json.dumps(out))
        """

    /// The pax records each sample member needs, and no others.
    static func expectedPax(_ entry: TarEntry) -> [String: [UInt8]] {
        let mtime: [UInt8]? = entry.modificationNanoseconds == 0 ? nil : bytes(
            entry.modificationSeconds >= 0
                ? "\(entry.modificationSeconds)." + String(format: "%09d", entry.modificationNanoseconds)
                : "-1.500000000")
        var pax: [String: [UInt8]] = [:]
        if let mtime { pax["mtime"] = mtime }
        switch entry.path {
        case SampleArchive.longPath, SampleArchive.japanesePath: pax["path"] = entry.path
        case SampleArchive.nonUTF8Path: pax["path"] = entry.path; pax["hdrcharset"] = bytes("BINARY")
        case bytes("top/bigid"): pax["uid"] = bytes("3000000"); pax["gid"] = bytes("3000001")
        case bytes("top/longowner"):
            pax["uname"] = bytes(SampleArchive.longUserName); pax["gname"] = bytes(SampleArchive.longGroupName)
        case bytes("top/xattr"):
            pax["SCHILY.xattr.user.kura"] = SampleArchive.xattrValue
            pax["SCHILY.xattr.user.odd%3Dname%25"] = bytes("plain")
            pax["SCHILY.xattr.user.empty"] = []
        case bytes("top/sticky/link-to-long"): pax["linkpath"] = entry.linkTarget
        case bytes("top/far-future"): pax["mtime"] = bytes("10000000000")
        default: break
        }
        return pax
    }

    static func typeflag(_ kind: TarEntry.Kind) -> String {
        switch kind {
        case .file: "0"
        case .hardLink: "1"
        case .symlink: "2"
        case .characterDevice: "3"
        case .blockDevice: "4"
        case .directory: "5"
        case .fifo: "6"
        }
    }

    @Test func tarfileReadsNamesSizesAndPaxHeaders() throws {
        let scratch = try TemporaryFolder("kuratar")
        defer { scratch.remove() }
        let archivePath = scratch.file("sample.tar")
        try Data(try SampleArchive.archive()).write(to: URL(fileURLWithPath: archivePath))
        let result = try run(["python3", "-c", PythonTarfileTests.lister, archivePath])
        try #require(result.status == 0, "python3 failed: \(result.err)")
        let listed = try JSONDecoder().decode([PythonMember].self, from: result.stdout)
        try #require(listed.count == SampleArchive.members.count)
        for (python, member) in zip(listed, SampleArchive.members) {
            let entry = member.entry
            let name = String(decoding: entry.path, as: UTF8.self)
            #expect(python.name == hexString(entry.path), "\(name)")  // tarfile strips a directory's slash too
            #expect(python.type == PythonTarfileTests.typeflag(entry.kind), "\(name)")
            #expect(python.size == entry.size, "\(name)")
            #expect(python.mode == entry.mode, "\(name)")
            #expect(python.uid == entry.uid && python.gid == entry.gid, "\(name)")
            #expect(python.uname == entry.userName && python.gname == entry.groupName, "\(name)")
            #expect(python.linkname == hexString(entry.linkTarget), "\(name)")
            #expect(python.devmajor == entry.deviceMajor && python.devminor == entry.deviceMinor, "\(name)")
            if let data = python.data { #expect(data == hexString(member.contents), "\(name)") }
            let expected = PythonTarfileTests.expectedPax(entry).mapValues { hexString($0) }
            #expect(python.pax == expected, "\(name)")
        }
    }

    @Test func readerReadsArchivesWrittenByTarfile() throws {
        let scratch = try TemporaryFolder("kuratar")
        defer { scratch.remove() }
        let archivePath = scratch.file("python.tar")
        // A pax archive with a global header, a non-ASCII name, a fractional mtime,
        // an xattr and a long link, then a GNU-format one with a base-256 uid.
        let writer = """
            import io, sys, tarfile
            def add(archive, name, data=b'', **fields):
                info = tarfile.TarInfo(name)
                for key, value in fields.items(): setattr(info, key, value)
                info.size = len(data) if info.type == tarfile.REGTYPE else 0
                archive.addfile(info, io.BytesIO(data) if data else None)
            with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT,
                              pax_headers={'comment': 'kura', 'gname': 'global-group'}) as archive:
                add(archive, 'dir', type=tarfile.DIRTYPE, mode=0o750, mtime=1700000000)
                add(archive, 'dir/grüße.txt', b'hello\\n', mode=0o600, mtime=1700000000.25, uname='u')
                add(archive, 'dir/x', b'xa', mtime=5, pax_headers={'SCHILY.xattr.user.a': 'b'})
                add(archive, 'dir/l', type=tarfile.SYMTYPE, linkname='t' * 120, mtime=6)
            with tarfile.open(sys.argv[2], 'w', format=tarfile.GNU_FORMAT) as archive:
                add(archive, 'g' * 130, b'gnu', uid=3000000, mtime=7)
            """
        let gnuPath = scratch.file("python-gnu.tar")
        let result = try run(["python3", "-c", writer, archivePath, gnuPath])
        try #require(result.status == 0, "python3 failed: \(result.err)")

        let pax = try readArchive(Array(try Data(contentsOf: URL(fileURLWithPath: archivePath))), seed: 7, maxPiece: 700)
        try #require(pax.count == 4)
        #expect(pax[0].entry == TarEntry(path: bytes("dir"), kind: .directory, mode: 0o750,
                                         groupName: "global-group", modificationTime: (1_700_000_000, 0)))
        #expect(pax[1].entry == TarEntry(path: bytes("dir/grüße.txt"), mode: 0o600, userName: "u",
                                         groupName: "global-group", modificationTime: (1_700_000_000, 250_000_000),
                                         size: 6))
        #expect(pax[1].contents == bytes("hello\n"))
        #expect(pax[2].entry.extendedAttributes == [.init(name: "user.a", value: bytes("b"))])
        #expect(pax[2].contents == bytes("xa"))
        #expect(pax[3].entry.kind == .symlink)
        #expect(pax[3].entry.linkTarget == bytes(String(repeating: "t", count: 120)))

        let gnu = try readArchive(Array(try Data(contentsOf: URL(fileURLWithPath: gnuPath))), seed: 8, maxPiece: 300)
        try #require(gnu.count == 1)
        #expect(gnu[0].entry.path == bytes(String(repeating: "g", count: 130)))
        #expect(gnu[0].entry.uid == 3_000_000)
        #expect(gnu[0].entry.modificationTime == (7, 0))
        #expect(gnu[0].contents == bytes("gnu"))
    }
}
