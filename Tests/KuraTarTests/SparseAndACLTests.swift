import Foundation
import KuraTar
import KuraTestSupport
import Testing

/// `TarWriter`'s PAX sparse 1.0 files and ACL text records, read by python3's `tarfile`.
@Suite struct SparseAndACLTests {
    func write(_ entries: [(TarEntry, [UInt8])]) throws -> [UInt8] {
        var out: [UInt8] = []
        let writer = TarWriter { out += $0 }
        for (entry, contents) in entries {
            try writer.writeHeader(entry)
            if !contents.isEmpty { try writer.writeContents(contents) }
            try writer.finishEntry()
        }
        try writer.finish()
        return out
    }

    @Test("a sparse entry is PAX sparse 1.0 that tarfile extracts to the full bytes; the ACL xattr gets a text record")
    func sparseAndACL() throws {
        let folder = try TemporaryFolder("kura-tar-sparse")
        defer { folder.remove() }
        var sparse = TarEntry(path: Array("dir/holes.bin".utf8), size: 3_000_000)
        sparse.sparseRegions = [.init(offset: 1000, length: 5), .init(offset: 2_000_000, length: 3)]
        // user::rw-, user:1000:r--, group::r--, mask::r--, other::---
        var acl: [UInt8] = [2, 0, 0, 0]
        for (tag, perm, id) in [(1, 6, UInt32.max), (2, 4, 1000), (4, 4, UInt32.max), (0x10, 4, UInt32.max), (0x20, 0, UInt32.max)] as [(UInt16, UInt16, UInt32)] {
            acl += [UInt8(tag & 0xFF), UInt8(tag >> 8), UInt8(perm & 0xFF), UInt8(perm >> 8)]
            acl += withUnsafeBytes(of: id.littleEndian, Array.init)
        }
        let withACL = TarEntry(path: Array("dir/acl.txt".utf8), size: 2,
                               extendedAttributes: [.init(name: "system.posix_acl_access", value: acl)])
        let archive = try write([(sparse, Array("hello".utf8) + Array("end".utf8)), (withACL, Array("ok".utf8))])
        #expect(archive.count < 8192, "the holes were written: \(archive.count) bytes")
        let path = folder.file("a.tar")
        try Data(archive).write(to: URL(fileURLWithPath: path))
        let script = try folder.script("read.py", """
            import sys, tarfile
            expected = bytearray(3000000)
            expected[1000:1005] = b'hello'
            expected[2000000:2000003] = b'end'
            with tarfile.open(sys.argv[1]) as t:
                for m in t:
                    data = t.extractfile(m).read()
                    same = data == expected if m.sparse else data == b'ok'
                    print(m.name, m.size, m.sparse, same, repr(m.pax_headers.get('SCHILY.acl.access')))
            """)
        let r = try TestProcess.command(["python3", script, path])
        #expect(r.status == 0, "\(r)")
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(r)")
        #expect(lines.first == "dir/holes.bin 3000000 [(1000, 5), (2000000, 3), (3000000, 0)] True None", "\(lines)")
        #expect(lines.last?.hasPrefix("dir/acl.txt 2 None True ") == true && lines.last?.hasSuffix("'user::rw-\\nuser:1000:r--\\ngroup::r--\\nmask::r--\\nother::---\\n'") == true, "\(lines)")
    }

    @Test("sparse regions out of order or beyond the size are refused")
    func badRegions() throws {
        var e = TarEntry(path: Array("f".utf8), size: 100)
        e.sparseRegions = [.init(offset: 50, length: 10), .init(offset: 10, length: 5)]
        #expect(throws: TarError.self) { _ = try write([(e, [])]) }
        e.sparseRegions = [.init(offset: 95, length: 10)]
        #expect(throws: TarError.self) { _ = try write([(e, [])]) }
    }
}
