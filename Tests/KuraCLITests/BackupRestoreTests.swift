import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("kura backup, snapshots, cat, ls, diff and restore")
struct BackupRestoreTests {
    /// The display form kura uses for a path (non-UTF-8 bytes as \xNN).
    private func display(_ bytes: [UInt8]) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        return bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
    }

    @Test func backupRecordsPathsTagsHostAndSummary() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            let scan = try scanTree(src)
            let first = try await s.backup([src], ["--tag", "daily", "--tag", "db", "--host", "web1"])
            let second = try await s.backup([src], ["--tag", "weekly", "--host", "web2"])

            let firstID = try #require(first["snapshot"] as? String)
            #expect(firstID.count == 64)
            #expect(first["paths"] as? [String] == [src])
            #expect(first["incomplete"] as? Bool == false)
            #expect((first["errors"] as? [Any])?.isEmpty == true)
            let summary = try #require(first["summary"] as? [String: Any])
            let files = scan.values.filter { $0.kind == .file }
            #expect(summary["files"] as? Int == files.count, "\(summary)")
            #expect(summary["directories"] as? Int == scan.values.filter { $0.kind == .directory }.count + 1, "\(summary)")  // + src itself
            #expect(summary["otherEntries"] as? Int == 1, "\(summary)")  // the symlink
            #expect(summary["totalBytes"] as? Int == files.reduce(0) { $0 + $1.contents.count }, "\(summary)")
            #expect((summary["bytesAdded"] as? Int ?? 0) >= 2_500_000, "\(summary)")

            let list = try await s.snapshots()
            try #require(list.count == 2, "\(list)")
            #expect(snapshotIDs(list) == [firstID, second["snapshot"] as? String ?? ""])
            let snap = try #require(list[0]["snapshot"] as? [String: Any])
            #expect(snap["paths"] as? [String] == [src])
            #expect(snap["tags"] as? [String] == ["daily", "db"])
            #expect(snap["host"] as? String == "web1")
            #expect(snap["source"] as? String == "directory")
            #expect(snap["incomplete"] as? Bool == false)
            #expect((list[0]["short"] as? String).map { firstID.hasPrefix($0) && $0.count >= 4 } == true)
            let later = try #require(list[1]["snapshot"] as? [String: Any])
            #expect(later["host"] as? String == "web2")
            #expect(later["tags"] as? [String] == ["weekly"])

            // Filters.
            #expect(snapshotIDs(try await s.snapshots(["--tag", "db"])) == [firstID])
            #expect(snapshotIDs(try await s.snapshots(["--tag", "weekly", "--tag", "daily"])).count == 2)
            #expect(snapshotIDs(try await s.snapshots(["--host", "web1"])) == [firstID])
            #expect(try await s.snapshots(["--host", "nowhere"]).isEmpty)

            // The table lists both, with the host and tags.
            let table = try await s.kuraOK(["snapshots"]).out
            #expect(table.contains("2 snapshots"), "\(table)")
            #expect(table.contains(String(firstID.prefix(8))) && table.contains("web1") && table.contains("daily,db"), "\(table)")
        }
    }

    @Test func catWritesTheExactBytesOfAFile() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"), seed: 7)
            let id = try #require(try await s.backup([src])["snapshot"] as? String)
            for rel in ["data/big.bin", "docs/empty.txt", "名前 with spaces.txt", "hard-b"] {
                let expected = try Data(contentsOf: URL(fileURLWithPath: src + "/" + rel))
                let got = try await s.cat("latest:\(src)/\(rel)")
                #expect(got == expected, "cat \(rel): \(got.count) bytes, expected \(expected.count)")
            }
            // By id prefix (4 digits) and full id.
            #expect(try await s.cat("\(id.prefix(4)):\(src)/docs/readme.txt") == Data("kura sample tree\nline two\n".utf8))
            #expect(try await s.cat("\(id):\(src)/data/nested/deeper/leaf.txt") == Data("leaf 7\n".utf8))
        }
    }

    @Test func lsListsTheTreeAsJSONAndText() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            let scan = try scanTree(src)
            try await s.backup([src])

            let r = try await s.kuraOK(["ls", "latest:\(src)", "--json"])
            let entries = try r.jsonLines()
            let paths = entries.compactMap { $0["path"] as? String }
            let expected = [src] + scan.keys.map { src + "/" + display($0) }
            #expect(Set(paths) == Set(expected), "extra: \(Set(paths).subtracting(expected)), missing: \(Set(expected).subtracting(paths))")
            #expect(paths.count == expected.count, "duplicates in \(paths)")
            func entry(_ rel: String) -> [String: Any]? { entries.first { $0["path"] as? String == src + "/" + rel } }
            #expect(entry("data/big.bin")?["type"] as? String == "file")
            #expect(entry("data/big.bin")?["size"] as? Int == 2_500_000)
            #expect(entry("data/big.bin")?["name"] as? String == "big.bin")
            #expect(entry("docs")?["type"] as? String == "dir")
            #expect(entry("docs/empty.txt")?["mode"] as? String == "600")
            #expect(entry("script.sh")?["mode"] as? String == "755")
            #expect(entry("link-to-readme")?["type"] as? String == "symlink")
            #expect(entry("link-to-readme")?["linkTarget"] as? String == "docs/readme.txt")
            #expect((entry("docs/notes.txt")?["mtime"] as? String)?.hasPrefix("2001-09-09T01:46:40.123456") == true,
                    "\(String(describing: entry("docs/notes.txt")))")

            // Plain text: one path per line, the same set.
            let text = try await s.kuraOK(["ls", "latest:\(src)"]).out.split(separator: "\n").map(String.init)
            #expect(Set(text) == Set(paths))

            // --no-recursive: the folder and its direct children only.
            let shallow = try await s.kuraOK(["ls", "latest:\(src)", "--no-recursive"]).out.split(separator: "\n").map(String.init)
            let direct = [src] + scan.keys.filter { !$0.contains(47) }.map { src + "/" + display($0) }
            #expect(Set(shallow) == Set(direct), "\(shallow)")

            // A file: just that entry; --long shows mode and size.
            let one = try await s.kuraOK(["ls", "latest:\(src)/data/big.bin", "-l"]).out
            #expect(one.split(separator: "\n").count == 1, "\(one)")
            #expect(one.hasPrefix("-rw-r--r--") && one.contains("2500000") && one.hasSuffix("\(src)/data/big.bin\n"), "\(one)")

            // The whole snapshot starts at the folders above the backed-up path.
            let all = try await s.kuraOK(["ls", "latest"]).out.split(separator: "\n").map(String.init)
            let topFolder: String = "/" + String(src.split(separator: "/")[0])
            #expect(all.first == topFolder, "\(all.prefix(3))")
            #expect(all.count == expected.count + src.split(separator: "/").count - 1)
        }
    }

    @Test func unchangedBackupStoresNothingAndDiffShowsExactChanges() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            let first = try await s.backup([src])
            let second = try await s.backup([src])
            let a = try #require(first["snapshot"] as? String), b = try #require(second["snapshot"] as? String)
            #expect(a != b)
            let sum2 = try #require(second["summary"] as? [String: Any])
            #expect(sum2["bytesAdded"] as? Int == 0, "\(sum2)")
            #expect(sum2["blobsAdded"] as? Int == 0, "\(sum2)")
            #expect(sum2["bytesStored"] as? Int == 0, "\(sum2)")

            let same = try await s.kuraOK(["diff", a, b])
            #expect(changes(parseDiff(same.out), under: src).isEmpty, "\(same)")
            #expect(same.out.contains("0 added, 0 removed, 0 modified"), "\(same)")
            let sameJSON = try #require(try await s.kuraOK(["diff", "--json", String(a.prefix(6)), "latest"]).json() as? [[String: String]])
            #expect(changes(sameJSON.map { ($0["kind"] ?? "", $0["path"] ?? "") }, under: src).isEmpty, "\(sameJSON)")

            // Modify one file (same length), add one, remove one.
            try writeText(src + "/docs/readme.txt", "KURA SAMPLE TREE\nline two\n")
            try writeText(src + "/docs/added.txt", "new file\n")
            try FileManager.default.removeItem(atPath: src + "/data/nested/deeper/leaf.txt")
            let third = try await s.backup([src])
            let c = try #require(third["snapshot"] as? String)
            let sum3 = try #require(third["summary"] as? [String: Any])
            let added3 = sum3["bytesAdded"] as? Int ?? -1
            #expect(added3 > 0 && added3 < 1000, "only the two small files are new: \(sum3)")

            let diff = try await s.kuraOK(["diff", b, c])
            let found = changes(parseDiff(diff.out), under: src)
            let contentChanges = found.filter { $0.kind != "U" }.map { "\($0.kind) \($0.path)" }
            #expect(Set(contentChanges) == ["M \(src)/docs/readme.txt", "+ \(src)/docs/added.txt", "- \(src)/data/nested/deeper/leaf.txt"],
                    "\(diff)")
            #expect(contentChanges.count == 3, "\(diff)")
            // Metadata lines only for the folders whose entries changed.
            #expect(Set(found.filter { $0.kind == "U" }.map(\.path)).isSubset(of: ["\(src)/docs", "\(src)/data/nested/deeper"]), "\(diff)")
            #expect(diff.out.contains("1 added, 1 removed, 1 modified"), "\(diff)")

            let json = try #require(try await s.kuraOK(["diff", b, c, "--json"]).json() as? [[String: String]])
            #expect(json.map { "\($0["kind"] ?? "") \($0["path"] ?? "")" } == parseDiff(diff.out).map { "\($0.kind) \($0.path)" })

            // Reversed, additions and removals swap.
            let back = changes(parseDiff(try await s.kuraOK(["diff", c, b]).out), under: src).filter { $0.kind != "U" }
            #expect(Set(back.map { "\($0.kind) \($0.path)" }) == ["M \(src)/docs/readme.txt", "- \(src)/docs/added.txt", "+ \(src)/data/nested/deeper/leaf.txt"])

            // Type change: a file replaced by a folder.
            try FileManager.default.removeItem(atPath: src + "/script.sh")
            try FileManager.default.createDirectory(atPath: src + "/script.sh", withIntermediateDirectories: false)
            let d = try #require(try await s.backup([src])["snapshot"] as? String)
            let typed = changes(parseDiff(try await s.kuraOK(["diff", c, d]).out), under: src).filter { $0.kind != "U" }
            #expect(typed.map { "\($0.kind) \($0.path)" } == ["T \(src)/script.sh"])
        }
    }

    @Test func smallChangeInABigFileStoresOnlyTheChangedChunks() async throws {
        try await withSandbox { s in
            // Small chunks (64/128/512 KiB), so the 2.5 MB file has many and the test is not left to chance.
            try await s.kuraOK(["init", "-q", "--chunk-min", "64", "--chunk-avg", "128", "--chunk-max", "512"])
            let src = try makeSampleTree(at: s.path("src"), seed: 3)
            let first = try await s.backup([src])
            #expect((first["summary"] as? [String: Any])?["blobsAdded"] as? Int ?? 0 >= 10, "\(first)")
            var big = randomBytes(2_500_000, seed: 3)
            for i in 1_300_000..<1_300_016 { big[i] ^= 0xFF }
            try RawFS.write(Array((src + "/data/big.bin").utf8), big)
            let second = try await s.backup([src])
            let summary = try #require(second["summary"] as? [String: Any])
            let added = summary["bytesAdded"] as? Int ?? -1
            #expect(added > 0 && added <= 2 * 512 * 1024, "a 16-byte change stored \(added) bytes: \(summary)")
            #expect(try await s.cat("latest:\(src)/data/big.bin") == Data(big))
            let firstID = try #require(first["snapshot"] as? String)
            #expect(try await s.cat("\(firstID.prefix(8)):\(src)/data/big.bin") == Data(randomBytes(2_500_000, seed: 3)))

            let stats = try await s.kuraOK(["stats", "--json"]).jsonObject()
            #expect(stats["snapshots"] as? Int == 2)
            let unique = stats["uniqueBytes"] as? Int ?? 0, logical = stats["logicalBytes"] as? Int ?? 0
            #expect(logical == 2 * ((first["summary"] as? [String: Any])?["totalBytes"] as? Int ?? 0), "\(stats)")
            #expect(unique < logical * 2 / 3, "dedup should keep unique bytes well below logical: \(stats)")
            #expect((stats["dedupRatio"] as? Double ?? 0) > 1.5, "\(stats)")
        }
    }

    @Test func restoreOfAWholeSnapshotRecreatesTheTree() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            let before = try scanTree(src)
            try await s.backup([src])
            let target = s.path("restored")
            let r = try await s.kuraOK(["restore", "latest", "--target", target, "--json"])
            let report = try r.jsonObject()
            #expect(report["files"] as? Int == before.values.filter { $0.kind == .file }.count, "\(r)")
            #expect((report["errors"] as? [Any])?.isEmpty == true)

            let restored = try scanTree(target + src)
            let problems = treeDifferences(expected: before, actual: restored)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            // Hard links stay hard links.
            var a = stat(), b = stat()
            #expect(lstat(target + src + "/hard-a", &a) == 0 && lstat(target + src + "/hard-b", &b) == 0)
            #expect(a.st_ino == b.st_ino && a.st_nlink == 2, "hard-a and hard-b are separate files after restore")
            // Nothing but the chain of folders down to the backed-up path.
            let top = try FileManager.default.contentsOfDirectory(atPath: target)
            #expect(top == [String(src.split(separator: "/")[0])], "\(top)")

            // Restoring again over changed files puts the snapshot's content back.
            try writeText(target + src + "/docs/readme.txt", "scribbled over\n")
            try await s.kuraOK(["restore", "latest", "--target", target, "-q"])
            #expect(try String(contentsOfFile: target + src + "/docs/readme.txt", encoding: .utf8) == "kura sample tree\nline two\n")
        }
    }

    /// `kura restore --help`: "Existing files in the way are replaced." A regular file where the
    /// snapshot has a folder is in the way too.
    @Test func restoreReplacesAFileThatIsInTheWayOfAFolder() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/docs/readme.txt", "readme\n")
            try writeText(src + "/top.txt", "top\n")
            try await s.backup([src])
            let target = s.path("target")
            try writeText(target + "/docs", "a file where the snapshot has a folder\n")
            let r = try await s.kura(["restore", "latest:\(src)", "--target", target])
            #expect(r.status == 0, "\(r)")
            #expect((try? String(contentsOfFile: target + "/docs/readme.txt", encoding: .utf8)) == "readme\n",
                    "docs/readme.txt was not restored: \(r)")
            #expect((try? String(contentsOfFile: target + "/top.txt", encoding: .utf8)) == "top\n")
        }
    }

    /// Whatever restore does with a symlink where the snapshot has a folder or a file, it must never
    /// write through it to a place outside the target.
    @Test func restoreNeverWritesThroughSymlinksInTheTarget() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/docs/readme.txt", "readme\n")
            try writeText(src + "/top.txt", "top\n")
            try await s.backup([src])
            let outside = s.path("outside")
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            let target = s.path("target")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: target + "/docs", withDestinationPath: outside)
            try FileManager.default.createSymbolicLink(atPath: target + "/top.txt", withDestinationPath: outside + "/top.txt")
            _ = try await s.kura(["restore", "latest:\(src)", "--target", target])
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "restore wrote outside the target")
            // The file that was a symlink is now the snapshot's file.
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: target + "/top.txt")) == nil)
            #expect((try? String(contentsOfFile: target + "/top.txt", encoding: .utf8)) == "top\n")
        }
    }

    @Test func restoreOfASubfolderWithAndWithoutInclude() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            let before = try scanTree(src)
            try await s.backup([src])

            // The folder's contents go straight into the target.
            let whole = s.path("whole")
            try await s.kuraOK(["restore", "latest:\(src)", "--target", whole, "-q"])
            let p1 = treeDifferences(expected: before, actual: try scanTree(whole))
            #expect(p1.isEmpty, "\(p1.joined(separator: "\n"))")

            // --include by name: only *.txt files, and the folders leading to them.
            let texts = s.path("texts")
            try await s.kuraOK(["restore", "latest:\(src)", "--target", texts, "--include", "*.txt", "-q"])
            var expected = before.filter { $0.value.kind == .file && $0.key.reversed().starts(with: Array("txt.".utf8)) }
            for dir in ["docs", "data", "data/nested", "data/nested/deeper"] { expected[Array(dir.utf8)] = before[Array(dir.utf8)] }
            let p2 = treeDifferences(expected: expected, actual: try scanTree(texts))
            #expect(p2.isEmpty, "\(p2.joined(separator: "\n"))")
            #expect(expected.count == 10)

            // --include by absolute path: one folder and everything in it.
            let data = s.path("data-only")
            try await s.kuraOK(["restore", "latest", "--target", data, "--include", "\(src)/data", "-q"])
            let dataExpected = before.filter { $0.key.starts(with: Array("data".utf8)) }
            let p3 = treeDifferences(expected: dataExpected, actual: try scanTree(data + src))
            #expect(p3.isEmpty, "\(p3.joined(separator: "\n"))")

            // A single file goes to TARGET/NAME.
            let single = s.path("single")
            try await s.kuraOK(["restore", "latest:\(src)/docs/notes.txt", "--target", single, "-q"])
            let p4 = treeDifferences(expected: [Array("notes.txt".utf8): before[Array("docs/notes.txt".utf8)]!], actual: try scanTree(single))
            #expect(p4.isEmpty, "\(p4.joined(separator: "\n"))")
        }
    }

    /// The tree stores mtimes with nanoseconds (restore reproduces them exactly), so `ls --json`
    /// must show them exactly too.
    @Test func lsJSONShowsNanosecondMtimesExactly() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/old.txt", "old\n")
            var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789)]
            #expect(utimensat(AT_FDCWD, src + "/old.txt", &times, 0) == 0)
            try await s.backup([src])
            let entry = try #require(try await s.kuraOK(["ls", "latest:\(src)/old.txt", "--json"]).jsonLines().first)
            let mtime = try #require(entry["mtime"] as? String)
            // The same instant, whatever the offset kura prints it in.
            #expect(mtime == "2001-09-09T01:46:40.123456789Z" || mtime.hasPrefix("2001-09-09T01:46:40.123456789"),
                    "ls --json shows mtime \(mtime) for a file whose mtime is 1000000000.123456789")
        }
    }

    /// Backups take shared locks: several at once into one repository all succeed and all restore.
    @Test func concurrentBackupsIntoOneRepositoryAllSucceed() async throws {
        try await withRepository { s in
            let shared = randomBytes(1_200_000, seed: 99)
            var sources: [(path: String, own: [UInt8])] = []
            for i in 0..<3 {
                let dir = s.path("src\(i)")
                let own = randomBytes(700_000, seed: UInt64(100 + i))
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try Data(own).write(to: URL(fileURLWithPath: dir + "/own.bin"))
                try Data(shared).write(to: URL(fileURLWithPath: dir + "/shared.bin"))
                sources.append((dir, own))
            }
            let results = try await withThrowingTaskGroup(of: RunResult.self) { group in
                for src in sources { group.addTask { try await s.kura(["backup", "--json", src.path]) } }
                return try await group.reduce(into: [RunResult]()) { $0.append($1) }
            }
            for r in results { #expect(r.status == 0, "\(r)") }
            let list = try await s.snapshots()
            #expect(list.count == 3)
            for src in sources {
                let snap = try #require(list.first { ($0["snapshot"] as? [String: Any])?["paths"] as? [String] == [src.path] }, "no snapshot of \(src.path)")
                let id = try #require(snap["short"] as? String)
                #expect(try await s.cat("\(id):\(src.path)/own.bin") == Data(src.own))
                #expect(try await s.cat("\(id):\(src.path)/shared.bin") == Data(shared))
            }
            let locks = (try? FileManager.default.contentsOfDirectory(atPath: s.repo + "/locks")) ?? []
            #expect(locks.isEmpty, "locks left behind: \(locks)")
        }
    }

    @Test func excludesAndSeveralPaths() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            let r = try await s.backup([src], ["--exclude", "*.bin", "-e", "\(src)/docs"])
            #expect((r["summary"] as? [String: Any])?["totalBytes"] as? Int ?? -1 < 1000, "\(r)")
            let paths = try await s.kuraOK(["ls", "latest:\(src)"]).out.split(separator: "\n").map(String.init)
            #expect(!paths.contains { $0.hasSuffix(".bin") || $0.hasPrefix("\(src)/docs") }, "\(paths)")
            #expect(paths.contains("\(src)/data/nested/deeper/leaf.txt"))
            let snap = try #require(try await s.snapshots().last?["snapshot"] as? [String: Any])
            #expect(snap["excludes"] as? [String] == ["*.bin", "\(src)/docs"])

            // Two paths, one of them inside another given path (dropped), and a relative path.
            let r2 = try await s.kuraOK(["backup", "--json", "src/docs", "\(src)/data", "\(src)/docs/readme.txt"], directory: s.root)
            let report = try r2.jsonObject()
            #expect(report["paths"] as? [String] == ["\(src)/data", "\(src)/docs"], "\(r2)")
            let listed = try await s.kuraOK(["ls", "latest:\(src)", "--no-recursive"]).out.split(separator: "\n").map(String.init)
            #expect(listed == [src, "\(src)/data", "\(src)/docs"], "\(listed)")
        }
    }
}
