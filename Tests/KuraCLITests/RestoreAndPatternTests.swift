import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 10, items 8, 10, 11, 12 (parts) and 15: restore, diff, ls, dump and the pattern language,
/// each tried from outside with the real binary, real files and (for dump) the real GNU tar.
@Suite("restore, diff, ls, dump and patterns: a hostile operator's findings")
struct RestoreAndPatternTests {
    /// Whether a program can be found on PATH.
    func have(_ program: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(program)")
        }
    }

    /// Files below `root`, relative, sorted (folders are not listed).
    func files(_ root: String) -> [String] {
        guard let all = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let rel = all.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
        }
        return out.sorted()
    }

    // MARK: - 8. diff and type changes

    @Test("diff lists the contents of a folder that became a file as removed, and the other way round as added")
    func diffListsContentsOfATypeChange() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/d/x.txt", "x")
            try writeText(src + "/d/y/z.txt", "z")
            try writeText(src + "/keep.txt", "k")
            try await s.backup([src])
            try FileManager.default.removeItem(atPath: src + "/d")
            try writeText(src + "/d", "now a file")
            try await s.backup([src])
            let ids = snapshotIDs(try await s.snapshots())
            try #require(ids.count == 2)

            // (U lines are the folders whose times changed; not what this is about.)
            let forward = parseDiff(try await s.kuraOK(["diff", ids[0], ids[1]]).out).filter { $0.kind != "U" }
            let expectForward: [(String, String)] = [("T", src + "/d"), ("-", src + "/d/x.txt"), ("-", src + "/d/y"), ("-", src + "/d/y/z.txt")]
            #expect(forward.map { "\($0.kind) \($0.path)" } == expectForward.map { "\($0.0) \($0.1)" })

            let backward = parseDiff(try await s.kuraOK(["diff", ids[1], ids[0]]).out).filter { $0.kind != "U" }
            let expectBackward: [(String, String)] = [("T", src + "/d"), ("+", src + "/d/x.txt"), ("+", src + "/d/y"), ("+", src + "/d/y/z.txt")]
            #expect(backward.map { "\($0.kind) \($0.path)" } == expectBackward.map { "\($0.0) \($0.1)" })
        }
    }

    // MARK: - 10. Restore over a folder where a file belongs

    @Test("restore replaces a folder that sits where a file belongs, without following a symlink inside it out of the target")
    func restoreReplacesAFolderInTheWay() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/f.txt", "the file\n")
            try writeText(src + "/dir/inside.txt", "inside\n")
            try await s.backup([src])

            // Outside the target: what a careless removal would destroy by following a link.
            let outside = s.path("outside")
            try writeText(outside + "/keep.txt", "keep me\n")
            let target = s.path("target")
            let inWay = target + src + "/f.txt"
            try writeText(inWay + "/junk.txt", "junk")
            try writeText(inWay + "/deeper/more.txt", "more")
            try FileManager.default.createSymbolicLink(atPath: inWay + "/escape", withDestinationPath: outside)
            try FileManager.default.createSymbolicLink(atPath: inWay + "/deeper/escape-file", withDestinationPath: outside + "/keep.txt")
            chmod(inWay + "/deeper", 0o500)  // a read-only folder must still be emptied
            // A symlink where a folder belongs is replaced too, never followed.
            try FileManager.default.createSymbolicLink(atPath: target + src + "/dir", withDestinationPath: outside)

            let r = try await s.kura(["restore", "latest", "--target", target])
            #expect(r.status == 0, "\(r)")
            #expect(FileManager.default.contents(atPath: target + src + "/f.txt") == Data("the file\n".utf8))
            #expect(FileManager.default.contents(atPath: target + src + "/dir/inside.txt") == Data("inside\n".utf8))
            #expect(RawFS.lstatPath(Array((target + src + "/dir").utf8)).map { $0.st_mode & S_IFMT } == S_IFDIR)
            #expect(files(outside) == ["keep.txt"], "the restore reached outside the target: \(files(outside))")
            #expect(FileManager.default.contents(atPath: outside + "/keep.txt") == Data("keep me\n".utf8))
        }
    }

    @Test("a restore that meets a damaged blob leaves no partial file under the real name, keeps what was there, and names the file")
    func damagedBlobLeavesNoPartialFile() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            try Data(randomBytes(4_000_000, seed: 77)).write(to: URL(fileURLWithPath: src + "/big.bin"))
            try await s.backup([src])
            // Damage the middle of the biggest pack: a chunk in the middle of big.bin.
            let packs = faultObjects(s.repo, "data").sorted { faultSize(s.repo + "/" + $0) > faultSize(s.repo + "/" + $1) }
            let pack = s.repo + "/" + packs[0]
            try FaultDamage.flipBit(pack, at: faultSize(pack) / 2, bit: 3)

            let fresh = s.path("fresh")
            let r = try await s.kura(["restore", "latest", "--target", fresh])
            #expect(r.status == 1, "\(r)")
            #expect(r.err.contains(src + "/big.bin") && r.err.contains("not restored"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: fresh + src + "/big.bin"), "a partial big.bin was left under its real name")
            #expect(files(fresh).isEmpty, "left behind: \(files(fresh))")

            // Over an existing copy: the old file stays as it was.
            let existing = s.path("existing")
            try writeText(existing + src + "/big.bin", "the previous version\n")
            let again = try await s.kura(["restore", "latest", "--target", existing])
            #expect(again.status == 1, "\(again)")
            #expect(FileManager.default.contents(atPath: existing + src + "/big.bin") == Data("the previous version\n".utf8))
            #expect(files(existing) == [String((src + "/big.bin").dropFirst())], "\(files(existing))")
        }
    }

    // MARK: - 11. Patterns

    @Test("patterns: a relative pattern with '/' matches at any depth, ** spans folders, for --include and --exclude alike")
    func patternsMatchLikeRestic() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", "a")
            try writeText(src + "/sub/b.txt", "b")
            try writeText(src + "/sub/deep/c.txt", "c")
            try writeText(src + "/other/sub/b.txt", "b2")
            try await s.backup([src])
            let rel = String(src.dropFirst())

            func restored(_ includes: [String]) async throws -> (files: [String], result: RunResult) {
                let target = s.path("t-\(UUID().uuidString.prefix(8))")
                let r = try await s.kura(["restore", "latest", "--target", target] + includes.flatMap { ["--include", $0] })
                return (files(target), r)
            }
            var got = try await restored(["sub/b.txt"])
            #expect(got.result.status == 0 && got.files == ["\(rel)/other/sub/b.txt", "\(rel)/sub/b.txt"], "\(got)")
            got = try await restored(["\(src)/sub/b.txt"])
            #expect(got.files == ["\(rel)/sub/b.txt"], "\(got)")
            got = try await restored(["\(src)/**/c.txt"])
            #expect(got.files == ["\(rel)/sub/deep/c.txt"], "\(got)")
            got = try await restored(["**/deep"])
            #expect(got.files == ["\(rel)/sub/deep/c.txt"], "\(got)")
            // A folder and a pattern inside it: both matched, no warning.
            got = try await restored(["\(src)/sub", "c.txt"])
            #expect(got.result.status == 0 && !got.result.err.contains("matched nothing"), "\(got)")

            // --exclude speaks the same language.
            let b = try await s.backup([src], ["--exclude", "**/b.txt", "--exclude", "sub/deep"])
            #expect(b["snapshot"] != nil)
            let listed = try await s.kuraOK(["ls", "latest:\(src)"]).out.split(separator: "\n").map(String.init)
            #expect(listed.sorted() == [src, src + "/a.txt", src + "/other", src + "/other/sub", src + "/sub"], "\(listed)")
        }
    }

    @Test("an invalid pattern is a usage error (exit 64) for restore and backup; an include that matches nothing is warned about")
    func invalidAndUnmatchedPatterns() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", "a")
            try await s.backup([src])
            for bad in ["[", "a/[b", "x\\", "a**b"] {
                let r = try await s.kura(["restore", "latest", "--target", s.path("t"), "--include", bad])
                #expect(r.status == 64 && r.err.contains("invalid --include"), "\(bad): \(r)")
                let b = try await s.kura(["backup", src, "--exclude", bad])
                #expect(b.status == 64 && b.err.contains("invalid --exclude"), "\(bad): \(b)")
            }
            #expect(!FileManager.default.fileExists(atPath: s.path("t")))
            let r = try await s.kura(["restore", "latest", "--target", s.path("t2"), "--include", "nothing-like-this", "--include", "a.txt"])
            #expect(r.status == 0, "\(r)")
            #expect(r.err.contains("'nothing-like-this' matched nothing") && !r.err.contains("'a.txt' matched nothing"), "\(r)")
        }
    }

    // MARK: - 12. ls, option values, --keep-last -1

    @Test("ls --long shows setuid, setgid and sticky bits as ls -l does")
    func lsShowsSpecialBits() async throws {
        try await withRepository { s in
            let src = s.path("src")
            let cases: [(String, mode_t, Bool, String)] = [
                ("suid", 0o4755, false, "-rwsr-xr-x"), ("suid-noexec", 0o4644, false, "-rwSr--r--"),
                ("sgid-dir", 0o2755, true, "drwxr-sr-x"), ("sgid-noexec", 0o2640, false, "-rw-r-S---"),
                ("sticky", 0o1777, true, "drwxrwxrwt"), ("sticky-noexec", 0o1776, true, "drwxrwxrwT"),
            ]
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            for (name, mode, dir, _) in cases {
                if dir { try FileManager.default.createDirectory(atPath: src + "/" + name, withIntermediateDirectories: true) } else { try writeText(src + "/" + name, "x") }
                #expect(chmod(src + "/" + name, mode) == 0)
            }
            try await s.backup([src])
            let out = try await s.kuraOK(["ls", "--long", "latest:\(src)"]).out
            for (name, _, _, shown) in cases {
                let line = out.split(separator: "\n").first { $0.hasSuffix(src + "/" + name) }
                #expect(line?.hasPrefix(shown) == true, "\(name): expected \(shown): \(line ?? "no line")")
            }
        }
    }

    @Test("ls escapes control characters in names; --json keeps them exact")
    func lsEscapesNames() async throws {
        try await withRepository { s in
            let src = s.path("src")
            let evil = "red\u{1B}[31mtext\u{07}\nforged"
            try writeText(src + "/" + evil, "x")
            try await s.backup([src])
            for args in [["ls", "latest:\(src)"], ["ls", "--long", "latest:\(src)"]] {
                let r = try await s.kuraOK(args)
                #expect(!r.out.contains("\u{1B}") && !r.out.contains("\u{07}") && !r.out.contains("\nforged"), "\(args): \(r.out.debugDescription)")
                #expect(r.out.contains("red\\u{1B}[31mtext\\u{07}\\nforged"), "\(args): \(r.out.debugDescription)")
            }
            let lines = try await s.kuraOK(["ls", "--json", "latest:\(src)"]).jsonLines()
            // JSON keeps the escape and bell characters exact (JSON-escaped, not terminal-escaped); a
            // newline is "\n" there as in every path kura shows (PathBytes.display), as before.
            #expect(lines.contains { $0["path"] as? String == src + "/red\u{1B}[31mtext\u{07}\\nforged" }, "\(lines)")
        }
    }

    @Test("invalid option values exit 64 and name the accepted values; --keep-last -1 works as a separate argument")
    func optionValuesAreUsageErrors() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", "a")
            try await s.backup([src])
            let cases: [([String], String)] = [
                (["dump", "latest", "--format", "zip"], "tar, tar.gz"),
                (["gc", "--max-unused", "150%"], "0% to 100%"),
                (["forget", "--keep-last", "1", "--gc", "--max-unused", "abc"], "0% to 100%"),
                (["check", "--read-data-subset", "0/7"], "N/M"),
                (["check", "--read-data-subset", "8/7"], "N/M"),
            ]
            for (args, accepted) in cases {
                let r = try await s.kura(args)
                #expect(r.status == 64 && r.err.contains(accepted), "\(args): \(r)")
                // Refused before the repository is opened: no password needed.
                let early = try await s.kura(args, password: .none)
                #expect(early.status == 64, "\(args) without a password: \(early)")
            }
            try await s.backup([src])
            let r = try await s.kura(["forget", "--keep-last", "-1", "--dry-run"])
            #expect(r.status == 0 && r.out.contains("would remove 0 snapshots"), "\(r)")
            let eq = try await s.kura(["forget", "--keep-daily=-1", "--dry-run"])
            #expect(eq.status == 0, "\(eq)")
        }
    }

    // MARK: - 15. dump: ACLs and holes for GNU tar

    @Test("dump writes ACLs so that GNU tar --acls applies them")
    func dumpACLsForGNUTar() async throws {
        guard geteuid() == 0, have("setfacl"), have("getfacl"), have("tar") else { return }
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/acl.txt", "acl\n")
            try FileManager.default.createDirectory(atPath: src + "/inherit", withIntermediateDirectories: true)
            let set1 = try await s.run("setfacl", ["-m", "u:12345:r--,g:23456:rw-", src + "/acl.txt"])
            let set2 = try await s.run("setfacl", ["-d", "-m", "u:12345:rwx", src + "/inherit"])
            guard set1.status == 0, set2.status == 0 else { return }  // a filesystem without ACLs
            try await s.backup([src])
            let out = s.path("x")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let x = try await s.pipe(kura: ["dump", "latest:\(src)"], into: "tar", ["--acls", "-xf", "-", "-C", out])
            #expect(x.kura.status == 0 && x.consumer.status == 0, "\(x)")
            let access = try await s.run("getfacl", ["-n", "-c", out + "/src/acl.txt"])
            #expect(access.out.contains("user:12345:r--") && access.out.contains("group:23456:rw-") && access.out.contains("mask::rw-"), "\(access)")
            let inherited = try await s.run("getfacl", ["-n", "-c", "-d", out + "/src/inherit"])
            #expect(inherited.out.contains("user:12345:rwx"), "\(inherited)")
        }
    }

    @Test("dump writes files with holes as PAX sparse 1.0: GNU tar restores the holes and the same bytes")
    func dumpSparseForGNUTar() async throws {
        guard have("tar") else { return }
        try await withRepository { s in
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            let path = src + "/sparse.bin"
            let size = 64 << 20
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(fd >= 0)
            let pieces: [(Int, [UInt8])] = [(0, randomBytes(100_000, seed: 1)), (20 << 20, randomBytes(300_000, seed: 2)), (50 << 20, Array("end".utf8))]
            for (offset, bytes) in pieces { _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) } }
            ftruncate(fd, off_t(size))  // ends in a hole
            close(fd)
            let original = try RawFS.read(Array(path.utf8))
            try #require((RawFS.lstatPath(Array(path.utf8))?.st_blocks ?? 0) * 512 < 4 << 20, "this filesystem does not keep holes")
            try await s.backup([src])

            let out = s.path("x")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let x = try await s.pipe(kura: ["dump", "latest:\(src)"], into: "tar", ["-xf", "-", "-C", out])
            #expect(x.kura.status == 0 && x.consumer.status == 0, "\(x)")
            let extracted = out + "/src/sparse.bin"
            let st = try #require(RawFS.lstatPath(Array(extracted.utf8)))
            #expect(Int(st.st_size) == size)
            #expect(Int(st.st_blocks) * 512 < 4 << 20, "GNU tar wrote \(Int(st.st_blocks) * 512) bytes on disk for a file with \(100_000 + 300_000 + 3) bytes of data")
            #expect(try RawFS.read(Array(extracted.utf8)) == original)
            // The archive itself holds the data, not the holes.
            let listed = try await s.pipe(kura: ["dump", "latest:\(src)"], into: "wc", ["-c"])
            let archiveBytes = Int(listed.consumer.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            #expect(archiveBytes > 0 && archiveBytes < 2 << 20, "archive of \(archiveBytes) bytes")
        }
    }
}
