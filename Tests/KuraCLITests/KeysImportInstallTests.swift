import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue 10, items 13, 14 and 17, from outside the process: the real `kura` binary, real files.
@Suite("keys, import-legacy and installing, as a hostile operator meets them")
struct KeysImportInstallTests {
    // MARK: - 13: a password change leaves no key that opens with the old password

    @Test("key add refuses a password that already opens a key; key passwd removes every key the old password opens")
    func passwordChangeLeavesNoOldKey() async throws {
        try await withRepository { s in
            // A second key with the *same* password: refused, nothing added.
            let same = try s.passwordFile(contents: s.password + "\n", name: "same-password")
            let dup = try await s.kura(["key", "add", "--new-password-file", same])
            #expect(dup.status != 0 && dup.err.contains("already opens key"), "\(dup)")
            #expect(try await s.kura(["key", "list", "--json"]).jsonArray().count == 1)

            // With another key (another password) present, passwd removes exactly the key of the old
            // password, and the old password then opens nothing.
            let other = try s.passwordFile(contents: "other-\(UUID().uuidString)\n", name: "other-password")
            let added = try await s.kura(["key", "add", "--new-password-file", other])
            #expect(added.status == 0, "\(added)")
            let newPassword = "new-\(UUID().uuidString)"
            let newFile = try s.passwordFile(contents: newPassword + "\n", name: "new-password")
            let passwd = try await s.kura(["key", "passwd", "--new-password-file", newFile])
            #expect(passwd.status == 0 && passwd.out.contains("removed 1 key"), "\(passwd)")
            let old = try await s.kura(["snapshots"])
            #expect(old.status == 12, "the old password must open nothing any more: \(old)")
            let new = try await s.kura(["snapshots"], password: .value(newPassword))
            #expect(new.status == 0, "\(new)")
            #expect(try await s.kura(["key", "list", "--json"], password: .value(newPassword)).jsonArray().count == 2)
        }
    }

    @Test("key passwd removes a second key made with the old password (left by an older kura) and says how many")
    func passwdRemovesEveryOldKey() async throws {
        try await withRepository { s in
            // Make the state an older kura allowed: a second key file for the same password. The library now
            // refuses that in `key add`, so copy the key file's JSON with a changed `created` field: a
            // different object (key files are named by their SHA-256) that opens with the same password.
            let keysDir = s.repo + "/keys"
            let names = try FileManager.default.contentsOfDirectory(atPath: keysDir)
            try #require(names.count == 1)
            var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keysDir + "/" + names[0]))) as? [String: Any])
            json["created"] = "2020-01-01T00:00:00Z"
            let bytes = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            let sha = try await s.run("sha256sum", [], stdin: .bytes(bytes))
            let id = String(sha.out.prefix(64))
            try bytes.write(to: URL(fileURLWithPath: keysDir + "/" + id))
            chmod(keysDir + "/" + id, 0o600)
            #expect(try await s.kura(["key", "list", "--json"]).jsonArray().count == 2)

            let newPassword = "new-\(UUID().uuidString)"
            let newFile = try s.passwordFile(contents: newPassword + "\n", name: "new-password")
            let passwd = try await s.kura(["key", "passwd", "--new-password-file", newFile])
            #expect(passwd.status == 0 && passwd.out.contains("removed 2 keys"), "\(passwd)")
            let old = try await s.kura(["snapshots"])
            #expect(old.status == 12, "the old password must open nothing: \(old)")
            let list = try await s.kura(["key", "list", "--json"], password: .value(newPassword)).jsonArray()
            #expect(list.count == 1, "\(list)")
        }
    }

    // MARK: - 14: import-legacy

    /// A gzip file of `bytes` (by the system's gzip), with an mtime.
    func gzip(_ s: Sandbox, _ path: String, _ bytes: [UInt8]) async throws {
        let r = try await s.run("gzip", ["-c", "-n"], stdin: .bytes(Data(bytes)))
        try #require(r.status == 0, "\(r)")
        try r.stdout.write(to: URL(fileURLWithPath: path))
    }

    @Test("import-legacy without a configuration: content decides what is skipped, a future date is refused, a damaged file is reported and the rest imported (exit 1)")
    func importLegacyHostileFolder() async throws {
        try await withRepository { s in
            let old = s.path("old")
            try FileManager.default.createDirectory(atPath: old + "/a", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: old + "/b", withIntermediateDirectories: true)
            try await gzip(s, old + "/a/app_2024-03-01_1700.sql.gz", Array("first dump\n".utf8))
            try await gzip(s, old + "/a/app_2099-12-31.sql.gz", Array("from the future\n".utf8))
            // A truncated gzip: the first half of a valid one.
            try await gzip(s, old + "/a/app_2024-03-02.sql.gz", Array(String(repeating: "row\n", count: 5000).utf8))
            let whole = try Data(contentsOf: URL(fileURLWithPath: old + "/a/app_2024-03-02.sql.gz"))
            try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: old + "/a/app_2024-03-02.sql.gz"))
            // A valid gzip around something that is not a tar archive.
            try await gzip(s, old + "/a/media_2024-03-01.tar.gz", Array(repeating: 0x41, count: 3000))
            // An empty environment: no /etc/kura/kura.toml is assumed to exist on the test machine.
            let env = ["KURA_CONFIG": ""]
            #expect(!FileManager.default.fileExists(atPath: "/etc/kura/kura.toml"), "this test assumes no system configuration")

            let first = try await s.kura(["import-legacy", old + "/a", "--source", "app"], extra: env)
            #expect(first.status == 1, "a damaged file makes the run fail at the end: \(first)")
            #expect(first.err.contains("app_2099-12-31.sql.gz") && first.err.contains("future"), "\(first)")
            #expect(first.err.contains("app_2024-03-02.sql.gz") && first.err.contains("not a complete gzip file"), "\(first)")
            #expect(first.err.contains("media_2024-03-01.tar.gz") && first.err.contains("valid gzip file") && first.err.contains("not a readable tar archive"),
                    "the failing layer is tar, not gzip: \(first)")
            #expect(first.err.contains("3 files could not be imported"), "\(first)")
            var snaps = try await s.snapshots()
            #expect(snaps.count == 1, "only the good dump: \(snaps)")
            #expect(((snaps.first?["snapshot"] as? [String: Any])?["tags"] as? [String])?.contains("source:app") == true, "--source without a configuration tags: \(snaps)")
            #expect(!(snaps.contains { (($0["snapshot"] as? [String: Any])?["time"] as? String)?.hasPrefix("2099") == true }), "no snapshot from the future")

            // The same file again: skipped. A *different* dump with the same name and date: imported.
            try await gzip(s, old + "/b/app_2024-03-01_1700.sql.gz", Array("second, different dump\n".utf8))
            let again = try await s.kura(["import-legacy", old + "/b", "--source", "app", "--json"], extra: env)
            let items = try again.jsonArray()
            let different = try #require(items.first { ($0["file"] as? String)?.hasSuffix("/app_2024-03-01_1700.sql.gz") == true }, "\(again)")
            #expect(different["skipped"] == nil || different["skipped"] is NSNull, "a different dump must not be called already imported: \(different)")
            #expect((different["warnings"] as? [String])?.contains { $0.contains("different file with the same name and date") } == true, "\(different)")
            snaps = try await s.snapshots()
            #expect(snaps.count == 2, "\(snaps)")
            let newID = try #require(different["snapshot"] as? String, "\(different)")
            let back = try await s.cat(String(newID.prefix(12)) + ":/app.sql")
            #expect(String(decoding: back, as: UTF8.self) == "second, different dump\n")
            // Re-running over the first folder skips the good dump by content and still reports the bad ones.
            let third = try await s.kura(["import-legacy", old + "/a", "--source", "app"], extra: env)
            #expect(third.status == 1 && third.out.contains("already imported") && third.out.contains("same content"), "\(third)")
            #expect(try await s.snapshots().count == 2)
        }
    }

    @Test("import-legacy keeps a symlink a symlink (a member below it is left out, with a warning) and warns about a hard link to a member outside the archive")
    func importLegacySymlinksAndHardLinks() async throws {
        try await withRepository { s in
            // Made with Python's tarfile (a real, standard writer): link -> /etc, then link/passwd,
            // and a hard link to a file that is not in the archive.
            let archive = s.path("old/vol_2024-03-01.tar.gz")
            try FileManager.default.createDirectory(atPath: s.path("old"), withIntermediateDirectories: true)
            let script = """
            import io, tarfile, sys
            with tarfile.open(sys.argv[1], "w:gz") as t:
                def add(name, kind, data=b"", link=""):
                    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.size = len(data); i.mtime = 1700000000
                    t.addfile(i, io.BytesIO(data) if data else None)
                add("data/real.txt", tarfile.REGTYPE, b"real contents\\n")
                add("data/link", tarfile.SYMTYPE, link="/etc")
                add("data/link/passwd", tarfile.REGTYPE, b"root:x:0:0\\n")
                add("data/dangling", tarfile.LNKTYPE, link="data/not-in-archive.txt")
            """
            let py = try await s.run("python3", ["-c", script, archive])
            try #require(py.status == 0, "\(py)")
            let r = try await s.kura(["import-legacy", s.path("old"), "--path", "/srv/vol"], extra: ["KURA_CONFIG": ""])
            #expect(r.status == 0, "\(r)")
            #expect(r.err.contains("data/link/passwd") && r.err.contains("symlink"), "the member below the symlink is reported: \(r)")
            #expect(r.err.contains("data/dangling") && r.err.contains("not in the archive") && r.err.contains("empty file"), "\(r)")
            let ls = try await s.kuraOK(["ls", "latest:/srv/vol", "--long"])
            let linkLine = try #require(ls.out.split(separator: "\n").first { $0.hasSuffix("/srv/vol/data/link") || $0.contains("/srv/vol/data/link ") }, "\(ls)")
            #expect(linkLine.hasPrefix("l"), "the symlink stays a symlink, not a folder: \(linkLine)")
            #expect(!ls.out.contains("/srv/vol/data/link/passwd"), "\(ls)")
            // Restored, it is a symlink to /etc (not a folder holding a fake passwd).
            let target = s.path("restored")
            try await s.kuraOK(["restore", "latest:/srv/vol", "--target", target])
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: target + "/data/link")) == "/etc")
            #expect(try String(contentsOfFile: target + "/data/real.txt", encoding: .utf8) == "real contents\n")
        }
    }

    // MARK: - 17: schedule install refuses a binary in a build folder

    @Test("schedule install refuses the binary inside .build/ and says how to fix it; --binary PATH and --allow-build-binary work")
    func scheduleInstallRefusesBuildFolderBinary() async throws {
        try await withSandbox { s in
            #expect(KuraBinary.url.path.contains("/.build/"), "the test binary lives in the build folder")
            let config = s.path("kura.toml")
            try Data("repository = \"\(s.repo)\"\nstate-dir = \"\(s.path("state"))\"\n[[source]]\nname = \"files\"\ntype = \"directory\"\npaths = [\"/srv\"]\nschedule = \"0 17 * * *\"\n".utf8).write(to: URL(fileURLWithPath: config))
            chmod(config, 0o600)
            let refused = try await s.kura(["schedule", "install", "--cron", "--dir", s.path("cron"), "--config", config], repo: .none)
            #expect(refused.status == 1 && refused.err.contains("build folder") && refused.err.contains("make install") && refused.err.contains("--binary"), "\(refused)")
            #expect(!FileManager.default.fileExists(atPath: s.path("cron/kura")), "nothing written")
            let dry = try await s.kura(["schedule", "install", "--cron", "--dry-run", "--config", config], repo: .none)
            #expect(dry.status == 1, "a dry run shows the same refusal: \(dry)")

            let named = try await s.kura(["schedule", "install", "--cron", "--dir", s.path("cron"), "--config", config, "--binary", "/usr/local/bin/kura"], repo: .none)
            #expect(named.status == 0, "\(named)")
            let line = try String(contentsOfFile: s.path("cron/kura"), encoding: .utf8)
            #expect(line.contains("root /usr/local/bin/kura run --due"), "\(line)")
            let forced = try await s.kura(["schedule", "install", "--cron", "--dry-run", "--config", config, "--allow-build-binary"], repo: .none)
            #expect(forced.status == 0 && forced.out.contains("/.build/"), "\(forced)")
        }
    }
}
