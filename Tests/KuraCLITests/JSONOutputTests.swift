import Foundation
import KuraTestSupport
import Testing

@Suite("kura --json output")
struct JSONOutputTests {
    @Test func everyCommandsJSONParsesAndAgrees() async throws {
        try await withSandbox { s in
            let initJSON = try await s.kuraOK(["init", "--json"]).jsonObject()
            #expect((initJSON["id"] as? String)?.count == 64)
            let chunker = try #require(initJSON["chunker"] as? [String: Any])
            #expect(chunker["minSize"] as? Int == 512 * 1024 && chunker["averageSize"] as? Int == 1024 * 1024 && chunker["maxSize"] as? Int == 8192 * 1024,
                    "\(chunker)")

            let src = try makeSampleTree(at: s.path("src"))
            let backup1 = try await s.backup([src])
            try writeText(src + "/docs/more.txt", "more\n")
            let backup2 = try await s.backup([src])
            let id1 = try #require(backup1["snapshot"] as? String), id2 = try #require(backup2["snapshot"] as? String)
            for key in ["snapshot", "time", "paths", "incomplete", "errors", "warnings", "summary"] {
                #expect(backup1[key] != nil, "backup --json lacks \(key): \(backup1)")
            }

            // snapshots: an array of {id, short, snapshot}.
            let list = try await s.kuraOK(["snapshots", "--json"]).jsonArray()
            #expect(snapshotIDs(list) == [id1, id2])
            let snap2 = try #require(list[1]["snapshot"] as? [String: Any])
            #expect(snap2["time"] as? String == backup2["time"] as? String)
            #expect((snap2["summary"] as? NSDictionary) == (backup2["summary"] as? NSDictionary), "snapshot summary differs from the backup report")
            #expect((snap2["tree"] as? String)?.count == 64)
            #expect(snap2["program"] as? String == "kura 0.1.0")

            // ls: JSON Lines, one object per entry (see the report: not one document).
            let ls = try await s.kuraOK(["ls", "latest:\(src)/docs", "--json"])
            let entries = try ls.jsonLines()
            #expect(entries.count == 5, "\(ls)")  // docs + readme, notes, empty, more
            for e in entries {
                for key in ["path", "name", "type", "mode", "uid", "gid", "user", "group", "size", "mtime"] {
                    #expect(e[key] != nil, "ls --json entry lacks \(key): \(e)")
                }
            }

            // diff: an array of {kind, path}.
            let diff = try await s.kuraOK(["diff", id1, id2, "--json"])
            let changes = try #require(try diff.json() as? [[String: String]], "\(diff)")
            #expect(changes.contains { $0["kind"] == "+" && $0["path"] == "\(src)/docs/more.txt" }, "\(diff)")

            // stats, overall and for one snapshot.
            let all = try await s.kuraOK(["stats", "--json"]).jsonObject()
            let one = try await s.kuraOK(["stats", String(id1.prefix(8)), "--json"]).jsonObject()
            for key in ["snapshots", "files", "directories", "logicalBytes", "uniqueChunks", "uniqueBytes", "storedBytes",
                        "repositoryBytes", "dedupRatio", "compressionRatio"] {
                #expect(all[key] != nil && one[key] != nil, "stats --json lacks \(key): \(all)")
            }
            #expect(all["snapshots"] as? Int == 2 && one["snapshots"] as? Int == 1)
            let total1 = (backup1["summary"] as? [String: Any])?["totalBytes"] as? Int
            #expect(one["logicalBytes"] as? Int == total1, "\(one)")
            #expect(one["files"] as? Int == (backup1["summary"] as? [String: Any])?["files"] as? Int, "\(one)")
            #expect((all["uniqueBytes"] as? Int ?? 0) < (all["logicalBytes"] as? Int ?? 0), "\(all)")
            #expect((all["storedBytes"] as? Int ?? 0) <= (all["repositoryBytes"] as? Int ?? 0), "\(all)")

            // restore.
            let restore = try await s.kuraOK(["restore", "latest:\(src)/docs", "--target", s.path("r"), "--json"]).jsonObject()
            #expect(restore["files"] as? Int == 4, "\(restore)")
            #expect(restore["bytes"] as? Int == 26 + 10400 + 0 + 5, "\(restore)")

            // Errors are JSON too, on standard output, with the exit code.
            let err = try await s.kura(["cat", "latest:\(src)/docs", "--json"])
            #expect(err.status == 1)
            let errJSON = try err.jsonObject()
            #expect(errJSON["exitCode"] as? Int == 1 && (errJSON["error"] as? String)?.contains("is not a file") == true, "\(err)")
        }
    }

    /// `ls --json` writes JSON Lines: one object per entry, each on its own line (not one document).
    @Test func lsJSONWritesOneObjectPerEntry() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/a.txt", "a\n")
            try writeText(src + "/b.txt", "b\n")
            try await s.backup([src])
            let r = try await s.kuraOK(["ls", "latest:\(src)", "--json"])
            let lines = try r.jsonLines()
            #expect(lines.map { $0["path"] as? String ?? "" } == [src, src + "/a.txt", src + "/b.txt"], "\(r)")
            #expect(r.out.hasSuffix("\n"))
        }
    }
}
