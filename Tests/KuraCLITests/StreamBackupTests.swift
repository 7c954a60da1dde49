import Foundation
import KuraTestSupport
import Testing

@Suite("kura backup --stdin-from-command")
struct StreamBackupTests {
    @Test func commandOutputBecomesAFileInTheSnapshot() async throws {
        try await withRepository { s in
            let r = try await s.kuraOK(["backup", "--json", "--tag", "db", "--stdin-filename", "db.sql", "--stdin-from-command",
                                        "--", "sh", "-c", "printf hello; printf ' world'; echo to-stderr >&2"])
            let report = try r.jsonObject()
            #expect(report["paths"] as? [String] == ["/db.sql"], "\(r)")
            #expect((report["summary"] as? [String: Any])?["totalBytes"] as? Int == 11, "\(r)")
            // The command's standard error passes through; its standard output does not leak.
            #expect(r.err.contains("to-stderr"), "\(r)")
            #expect(!r.out.contains("hello"), "\(r)")

            #expect(try await s.cat("latest:/db.sql") == Data("hello world".utf8))
            let snap = try #require(try await s.snapshots().last?["snapshot"] as? [String: Any])
            #expect(snap["source"] as? String == "command")
            #expect(snap["command"] as? [String] == ["sh", "-c", "printf hello; printf ' world'; echo to-stderr >&2"])
            #expect(snap["tags"] as? [String] == ["db"])
            let entry = try #require(try await s.kuraOK(["ls", "latest", "--json"]).jsonLines().first)
            #expect(entry["path"] as? String == "/db.sql")
            #expect(entry["mode"] as? String == "600")
            #expect(entry["size"] as? Int == 11)
        }
    }

    @Test func bigStreamRoundTripsAndDeduplicatesWithAFile() async throws {
        try await withRepository { s in
            let bytes = randomBytes(3_000_000, seed: 11)
            let file = s.path("payload.bin")
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            // A path is refused (the name is a plain file name); nothing is saved.
            let refused = try await s.kura(["backup", "--stdin-filename", "dumps/payload.bin", "--stdin-from-command", "--", "/bin/cat", file])
            #expect(refused.status == 1 && refused.err.contains("plain file name"))
            let first = try await s.backup([], ["--stdin-filename", "payload.bin", "--stdin-from-command", "--", "/bin/cat", file])
            #expect(first["paths"] as? [String] == ["/payload.bin"], "\(first)")
            #expect(try await s.cat("latest:/payload.bin") == Data(bytes))
            // The same bytes as a file: every chunk is already stored.
            let second = try await s.backup([file])
            let summary = try #require(second["summary"] as? [String: Any])
            #expect(summary["bytesAdded"] as? Int == 0, "\(summary)")
            // And the stream again, through restore.
            let out = s.path("out")
            let firstID = try #require(first["snapshot"] as? String)
            try await s.kuraOK(["restore", String(firstID.prefix(10)), "--target", out, "-q"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/payload.bin")) == Data(bytes))
        }
    }

    @Test func failingCommandSavesNoSnapshot() async throws {
        try await withRepository { s in
            try await s.kuraOK(["backup", "-q", "--stdin-filename", "ok.txt", "--stdin-from-command", "--", "/bin/echo", "fine"])
            let before = snapshotIDs(try await s.snapshots())
            try #require(before.count == 1)

            let exit3 = try await s.kura(["backup", "--stdin-filename", "db.sql", "--stdin-from-command", "--", "sh", "-c", "echo partial; exit 3"])
            #expect(exit3.status != 0 && exit3.status != 3, "a failed command is not a partial success: \(exit3)")
            #expect(exit3.status == 1, "\(exit3)")
            #expect(exit3.err.contains("exited with status 3") && exit3.err.contains("no snapshot was saved"), "\(exit3)")

            let killed = try await s.kura(["backup", "--stdin-filename", "db.sql", "--stdin-from-command", "--", "sh", "-c", "echo partial; kill -9 $$"])
            #expect(killed.status == 1, "\(killed)")
            #expect(killed.err.contains("signal 9"), "\(killed)")

            let missing = try await s.kura(["backup", "--stdin-filename", "db.sql", "--stdin-from-command", "--", "/nonexistent/program"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err.contains("cannot run /nonexistent/program: no such file"), "\(missing)")

            let json = try await s.kura(["backup", "--json", "--stdin-filename", "db.sql", "--stdin-from-command", "--", "/bin/false"])
            #expect(json.status == 1, "\(json)")
            let error = try json.jsonObject()
            #expect(error["code"] as? String == "commandFailed", "\(json)")
            #expect(error["exitCode"] as? Int == 1, "\(json)")

            #expect(snapshotIDs(try await s.snapshots()) == before, "a failed command left a snapshot")
            let latest = try await s.kura(["cat", "latest:/db.sql"])
            #expect(latest.status == 1, "\(latest)")
            #expect(try await s.cat("latest:/ok.txt") == Data("fine\n".utf8))
        }
    }

    @Test func streamOptionsMustGoTogether() async throws {
        try await withRepository { s in
            let nameOnly = try await s.kura(["backup", "--stdin-filename", "x.sql"])
            #expect(nameOnly.status == 1, "\(nameOnly)")
            #expect(nameOnly.err.contains("go together"), "\(nameOnly)")
            let commandMissing = try await s.kura(["backup", "--stdin-filename", "x.sql", "--stdin-from-command"])
            #expect(commandMissing.status == 1, "\(commandMissing)")
            #expect(commandMissing.err.contains("needs a command"), "\(commandMissing)")
            let flagOnly = try await s.kura(["backup", "--stdin-from-command", "--", "/bin/echo", "x"])
            #expect(flagOnly.status == 1, "\(flagOnly)")
            #expect(try await s.snapshots().isEmpty)
        }
    }
}
