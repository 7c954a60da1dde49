import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A regular file that even root cannot open for reading: a write-only sysfs attribute (the kernel
/// refuses reads of attributes without a show method, whatever the capabilities). nil if there is none.
let unreadableFileForRoot: String? = {
    for path in ["/sys/bus/pci/rescan", "/sys/bus/pci/drivers_probe", "/sys/bus/platform/drivers_probe", "/sys/bus/cpu/drivers_probe"] {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { close(fd); continue }
        return path
    }
    return nil
}()

@Suite("kura exit codes and error messages")
struct ErrorExitCodeTests {
    @Test func wrongPasswordExits12ForEveryCommand() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", "a\n")
            try await s.backup([src])
            for args in [["snapshots"], ["cat", "latest:\(src)/a.txt"], ["backup", src], ["restore", "latest", "--target", s.path("r")]] {
                let r = try await s.kura(args, password: .value("not the password"))
                #expect(r.status == 12, "\(r)")
                #expect(r.err.contains("wrong password"), "\(r)")
                #expect(r.stdout.isEmpty, "\(r)")
            }
            let json = try await s.kura(["snapshots", "--json"], password: .value("not the password"))
            #expect(json.status == 12)
            let error = try json.jsonObject()
            #expect(error["code"] as? String == "wrongPassword", "\(json)")
            #expect(error["exitCode"] as? Int == 12, "\(json)")
            // Nothing was added by the refused backup, nothing restored.
            #expect(try await s.snapshots().count == 1)
            #expect(!FileManager.default.fileExists(atPath: s.path("r")))
        }
    }

    @Test func missingRepositoryExits10() async throws {
        try await withSandbox { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", "a\n")
            for args in [["snapshots"], ["backup", src], ["cat", "latest:\(src)/a.txt"], ["ls", "latest"], ["stats"]] {
                let r = try await s.kura(args)
                #expect(r.status == 10, "\(r)")
                #expect(r.err.contains("there is no kura repository at \(s.repo)"), "\(r)")
            }
            // A folder that exists but is not a repository, asked for without a password.
            let notRepo = try await s.kura(["snapshots", "--json"], repo: .path(src), password: .none)
            #expect(notRepo.status == 10, "\(notRepo)")
            #expect((try? notRepo.jsonObject())?["code"] as? String == "noRepository", "\(notRepo)")
            // Looking did not create anything.
            #expect(!FileManager.default.fileExists(atPath: s.repo))
        }
    }

    @Test func unknownOrMalformedSnapshotReferences() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", "a\n")
            // No snapshots yet: `latest` names nothing.
            let empty = try await s.kura(["ls", "latest"])
            #expect(empty.status == 1, "\(empty)")
            #expect(empty.err.contains("no snapshots"), "\(empty)")

            let id = try #require(try await s.backup([src])["snapshot"] as? String)
            let unused = unusedPrefix([id])
            let unknown = try await s.kura(["cat", "\(unused):\(src)/a.txt"])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.err.contains("no snapshot has an id starting with \(unused)"), "\(unknown)")
            #expect(unknown.stdout.isEmpty)

            for bad in ["zz", "12", "not-hex!"] {
                let r = try await s.kura(["restore", bad, "--target", s.path("r")])
                #expect(r.status == 1, "\(r)")
                #expect(r.err.contains("is not a snapshot id"), "\(r)")
            }
            let diff = try await s.kura(["diff", String(id.prefix(8)), unused])
            #expect(diff.status == 1, "\(diff)")
            let stats = try await s.kura(["stats", unused])
            #expect(stats.status == 1, "\(stats)")
            // Upper-case prefixes name the same snapshot.
            let upper = try await s.kura(["cat", "\(id.prefix(6).uppercased()):\(src)/a.txt"])
            #expect(upper.status == 0 && upper.out == "a\n", "\(upper)")
        }
    }

    @Test func catOfAFolderOrMissingPathFails() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/sub/a.txt", "a\n")
            try FileManager.default.createSymbolicLink(atPath: src + "/link", withDestinationPath: "sub/a.txt")
            try await s.backup([src])
            let folder = try await s.kura(["cat", "latest:\(src)/sub"])
            #expect(folder.status == 1, "\(folder)")
            #expect(folder.err.contains("is not a file"), "\(folder)")
            #expect(folder.stdout.isEmpty)
            let link = try await s.kura(["cat", "latest:\(src)/link"])
            #expect(link.status == 1, "\(link)")
            let noPath = try await s.kura(["cat", "latest"])
            #expect(noPath.status == 1, "\(noPath)")
            #expect(noPath.err.contains("SNAPSHOT:PATH"), "\(noPath)")
            let root = try await s.kura(["cat", "latest:/"])
            #expect(root.status == 1, "\(root)")
            let missing = try await s.kura(["cat", "latest:\(src)/sub/nope.txt"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err.contains("\(src)/sub/nope.txt is not in snapshot"), "\(missing)")
            // Through a file as if it were a folder.
            let through = try await s.kura(["ls", "latest:\(src)/sub/a.txt/x"])
            #expect(through.status == 1, "\(through)")
            #expect(through.err.contains("is not a directory"), "\(through)")
        }
    }

    @Test func passwordIsNeverTakenFromTheCommandLine() async throws {
        try await withSandbox { s in
            let r = try await s.kura(["init", "--password", "hunter2-on-argv"], password: .none)
            #expect(r.status != 0, "\(r)")
            #expect(r.err.contains("Unknown option '--password'"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: s.repo), "a repository was created")
            let eq = try await s.kura(["init", "--password=hunter2-on-argv"], password: .none)
            #expect(eq.status != 0, "\(eq)")
            #expect(!FileManager.default.fileExists(atPath: s.repo))
        }
    }

    @Test(.enabled(if: unreadableFileForRoot != nil, "needs a file that cannot be opened for reading"))
    func unreadableEntryGivesExit3AndAnIncompleteSnapshot() async throws {
        try await withRepository { s in
            let unreadable = try #require(unreadableFileForRoot)
            let src = s.path("src")
            try writeText(src + "/fine.txt", "fine\n")
            let r = try await s.kura(["backup", "--json", unreadable, src])
            #expect(r.status == 3, "\(r)")
            let report = try r.jsonObject()
            #expect(report["incomplete"] as? Bool == true, "\(r)")
            let errors = report["errors"] as? [[String: String]] ?? []
            #expect(errors.count == 1 && errors.first?["path"] == unreadable, "\(r)")
            // The snapshot is saved and usable, marked incomplete, with what could be read.
            let list = try await s.snapshots()
            try #require(list.count == 1)
            let snap = try #require(list[0]["snapshot"] as? [String: Any])
            #expect(snap["incomplete"] as? Bool == true)
            #expect((snap["errors"] as? [[String: String]])?.first?["path"] == unreadable)
            #expect(try await s.cat("latest:\(src)/fine.txt") == Data("fine\n".utf8))
            let table = try await s.kuraOK(["snapshots"]).out
            #expect(table.contains("(incomplete)"), "\(table)")
            // Without --json the unreadable entry is named on standard error.
            let text = try await s.kura(["backup", unreadable, src])
            #expect(text.status == 3, "\(text)")
            #expect(text.err.contains("could not read \(unreadable)"), "\(text)")
            #expect(text.out.contains("INCOMPLETE"), "\(text)")
        }
    }

    @Test func backupOfAMissingPathSavesNothing() async throws {
        try await withRepository { s in
            let r = try await s.kura(["backup", s.path("does-not-exist")])
            #expect(r.status == 1, "\(r)")
            #expect(r.err.contains("cannot back up") && r.err.contains("nothing was saved"), "\(r)")
            let none = try await s.kura(["backup"])
            #expect(none.status == 1, "\(none)")
            #expect(none.err.contains("no paths"), "\(none)")
            #expect(try await s.snapshots().isEmpty)
        }
    }

    @Test func damagedPacksAreDetected() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", String(repeating: "precious data\n", count: 100))
            try await s.backup([src])
            // Flip the first ciphertext byte (after the 12-byte nonce) of the first blob of every pack.
            let data = s.repo + "/data"
            for rel in try FileManager.default.subpathsOfDirectory(atPath: data) {
                let path = data + "/" + rel
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
                var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                bytes[12] ^= 0x01
                try bytes.write(to: URL(fileURLWithPath: path))
            }
            let cat = try await s.kura(["cat", "latest:\(src)/a.txt"])
            #expect(cat.status == 1, "\(cat)")
            #expect(cat.err.contains("damaged") || cat.err.contains("failed authentication"), "\(cat)")
            #expect(!cat.out.contains("precious data"), "damaged data was written out: \(cat)")
            let restore = try await s.kura(["restore", "latest", "--target", s.path("r")])
            #expect(restore.status != 0, "\(restore)")
            // The snapshot list does not read packs, so it still works.
            #expect(try await s.snapshots().count == 1)
        }
    }
}
