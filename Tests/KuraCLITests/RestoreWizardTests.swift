import Foundation
import KuraTestSupport
import Testing

/// `kura restore` with no arguments, driven through a real pseudo-terminal (80×24) like an operator
/// over SSH: the team's "back to last week" and "back to yesterday (in place)" scenarios. The
/// database scenario is in KuraPostgresTests (it needs the PostgreSQL test server).
@Suite struct RestoreWizardTests {
    static func iso(daysAgo: Double) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date().addingTimeInterval(-daysAgo * 86400))
    }

    func terminal(_ s: Sandbox, _ args: [String], extra: [String: String] = [:]) throws -> PseudoTerminal {
        var env = try s.environment(.environment, extra: extra)
        env["KURA_STATE_DIR"] = s.path("state")
        return try PseudoTerminal(KuraBinary.url, ["restore"] + args, environment: env, directory: s.root)
    }

    @Test("back to last week: a folder from an older snapshot into a new folder")
    func backToLastWeek() async throws {
        try await withRepository { s in
            let data = s.path("data")
            try FileManager.default.createDirectory(atPath: data + "/sub", withIntermediateDirectories: true)
            try writeText(data + "/a.txt", "last week\n")
            try writeText(data + "/sub/b.txt", "b of last week\n")
            try await s.backup([data], ["--time", Self.iso(daysAgo: 7)])
            try writeText(data + "/a.txt", "yesterday\n")
            try await s.backup([data], ["--time", Self.iso(daysAgo: 1)])
            try writeText(data + "/a.txt", "broken today\n")

            let target = s.path("restored")
            let t = try terminal(s, ["--repo", s.repo])
            try t.expect("1. What broke?")
            try t.expect("choose 1-3 [1]: ")
            t.send("2")
            try t.expect("Which one?")
            t.send("")  // the only files source, the default
            let list = try t.expect("choose 1-2 [1]: ")
            // Newest first: yesterday's is 1, last week's is 2; both marked full (no parent recorded).
            let lines = list.split(whereSeparator: \.isNewline).filter { $0.contains(") ") && ($0.contains(" full") || $0.contains(" incr")) }
            #expect(lines.count == 2, "\(list)")
            #expect(lines.last?.contains(" full") == true, "the oldest has no parent: a full")
            t.send("2")
            try t.expect("3. What exactly?")
            t.send("1")
            try t.expect("4. Where to?")
            try t.expect("choose 1-2 [1]: ")
            t.send("1")
            try t.expect("folder to restore into [")
            t.send(target)
            let summary = try t.expect("Go ahead? (y/n) [y]: ")
            #expect(summary.contains("kura restore "), "\(summary)")
            #expect(summary.contains("--target \(target)"), "\(summary)")
            t.send("y")
            try t.expect("check it:")
            #expect(try t.wait() == 0, "\(t.transcript)")
            #expect(t.transcript.contains("look at \(target + data)"), "the check hint names the restored folder: \(t.transcript)")
            #expect(try String(contentsOfFile: target + data + "/a.txt", encoding: .utf8) == "last week\n")
            #expect(try String(contentsOfFile: target + data + "/sub/b.txt", encoding: .utf8) == "b of last week\n")
            #expect(try String(contentsOfFile: data + "/a.txt", encoding: .utf8) == "broken today\n", "a new place leaves the original alone")
            // Every line fits 80 columns, but for the long paths of the test's folder.
            let wide = t.transcript.split(whereSeparator: \.isNewline).filter { $0.count > 80 && !$0.contains(s.root.path) }  // long paths wrap, as in any shell
            #expect(wide.isEmpty, "\(wide)")
        }
    }

    @Test("back to yesterday in place: a safety snapshot of today first, typed confirmation, then the files")
    func backToYesterdayInPlace() async throws {
        try await withRepository { s in
            let data = s.path("data")
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try writeText(data + "/a.txt", "yesterday a\n")
            try writeText(data + "/b.txt", "yesterday b\n")
            try await s.backup([data], ["--time", Self.iso(daysAgo: 2), "--tag", "source:app"])
            try writeText(data + "/a.txt", "yesterday a, later\n")
            try await s.backup([data], ["--time", Self.iso(daysAgo: 1), "--tag", "source:app"])
            // Today it broke: a file damaged, one deleted.
            try writeText(data + "/a.txt", "damaged today\n")
            try FileManager.default.removeItem(atPath: data + "/b.txt")
            let config = s.path("kura.toml")
            try writeText(config, """
                repository = "\(s.repo)"
                state-dir = "\(s.path("state"))"

                [[source]]
                name = "app"
                type = "directory"
                paths = ["\(data)"]
                """)

            // A wrong confirmation changes nothing.
            let wrong = try terminal(s, ["--config", config])
            for answer in ["2", "", "", "1", "2"] { try wrong.expect(" [") ; wrong.send(answer) }
            try wrong.expect("Type the source name (app)")
            wrong.send("yes")
            #expect(try wrong.wait() == 130, "\(wrong.transcript)")
            #expect(try String(contentsOfFile: data + "/a.txt", encoding: .utf8) == "damaged today\n")
            #expect(try await s.snapshots(["--tag", "before-restore"]).isEmpty)

            let t = try terminal(s, ["--config", config])
            try t.expect("choose 1-3 [1]: "); t.send("2")
            try t.expect("app  (\(data))"); t.send("")
            let list = try t.expect("choose 1-2 [1]: ")
            #expect(list.contains("1) "), "\(list)")
            t.send("1")  // yesterday: the newest
            try t.expect("3. What exactly?"); try t.expect(": "); t.send("1")
            try t.expect("in place, where it was backed up from"); try t.expect("choose 1-2 [1]: "); t.send("2")
            let summary = try t.expect("Type the source name (app)")
            #expect(summary.contains("IN PLACE"), "\(summary)")
            #expect(summary.contains(":\(data) --target \(data)"), "\(summary)")
            t.send("app")
            let end = try t.expect("to undo")
            #expect(end.contains("safety snapshot"), "\(end)")
            #expect(try t.wait() == 0, "\(t.transcript)")

            #expect(try String(contentsOfFile: data + "/a.txt", encoding: .utf8) == "yesterday a, later\n")
            #expect(try String(contentsOfFile: data + "/b.txt", encoding: .utf8) == "yesterday b\n")
            // The safety snapshot holds what was there before the restore.
            let safety = try await s.snapshots(["--tag", "before-restore"])
            try #require(safety.count == 1)
            let id = try #require(safety[0]["id"] as? String)
            #expect(String(decoding: try await s.cat("\(id):\(data)/a.txt"), as: UTF8.self) == "damaged today\n")
            #expect(try await s.kura(["cat", "\(id):\(data)/b.txt"]).status != 0, "b.txt was missing before the restore")
            #expect(((safety[0]["snapshot"] as? [String: Any])?["tags"] as? [String] ?? []).contains("source:app"))
        }
    }

    @Test("kura restore without arguments and without a terminal is still a usage error")
    func noTerminalUsageError() async throws {
        try await withRepository { s in
            let r = try await s.kura(["restore"])
            #expect(r.status == 64, "\(r)")
            #expect(r.err.contains("Missing expected argument"), "\(r)")
        }
    }
}
