import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Wrong things asked of a good repository, or a repository kura must not write: unknown snapshot
/// ids, a wrong password, a newer format version, a read-only repository.
@Suite("fault injection: bad command input")
struct FaultBadCommandInputTests {
    static let bindUnavailable = TestMount.bindUnavailableReason
    static let bindReason = Comment(rawValue: "needs a read-only bind mount: \(bindUnavailable ?? "")")

    /// A repository with two snapshots of a small tree; returns the tree's path and the snapshot ids.
    func prepare(_ s: Sandbox) async throws -> (src: String, ids: [String]) {
        try await s.initRepository()
        let src = s.path("src")
        try writeText(src + "/a.txt", "alpha\n")
        try writeText(src + "/sub/b.txt", "beta\n")
        let first = try #require(try await s.backup([src])["snapshot"] as? String)
        try writeText(src + "/sub/c.txt", "gamma\n")
        let second = try #require(try await s.backup([src])["snapshot"] as? String)
        return (src, [first, second])
    }

    @Test func unknownSnapshotIDsAreRefused() async throws {
        try await withSandbox { s in
            let (src, ids) = try await prepare(s)
            let unused = unusedPrefix(ids)
            let target = s.path("r")
            let commands: [[String]] = [
                ["ls", unused], ["ls", "\(unused):\(src)"], ["cat", "\(unused):\(src)/a.txt"],
                ["restore", unused, "--target", target], ["restore", "\(unused):\(src)", "--target", target],
                ["diff", unused, String(ids[1].prefix(8))], ["diff", String(ids[0].prefix(8)), unused],
                ["stats", unused], ["dump", "\(unused):\(src)", "--format", "tar"], ["backup", src, "--parent", unused],
            ]
            for args in commands {
                let r = try await s.kura(args)
                #expect(r.status == 1, "\(r)")
                #expect(r.err.contains("no snapshot has an id starting with \(unused)"), "\(r)")
                #expect(r.stdout.isEmpty, "\(r)")
            }
            // Not ids at all.
            for bad in ["abc", "xyz123", String(repeating: "a", count: 65), "latest2"] {
                let r = try await s.kura(["ls", bad])
                #expect(r.status == 1 && r.err.contains("is not a snapshot id"), "\(bad): \(r)")
            }
            // A path that is not in the snapshot.
            let missing = try await s.kura(["restore", "latest:\(src)/nope", "--target", target])
            #expect(missing.status == 1 && missing.err.contains("is not in snapshot"), "\(missing)")
            #expect(!FileManager.default.fileExists(atPath: target), "a refused restore created its target")
            #expect(try await s.snapshots().count == 2, "a refused backup saved a snapshot")
            #expect(faultObjects(s.repo, "locks").isEmpty)
        }
    }

    @Test func wrongPasswordExits12AndChangesNothing() async throws {
        try await withSandbox { s in
            let (src, ids) = try await prepare(s)
            let before = faultObjects(s.repo, "")
            let target = s.path("r")
            let commands: [[String]] = [
                ["snapshots"], ["ls", "latest"], ["cat", "latest:\(src)/a.txt"], ["restore", "latest", "--target", target],
                ["dump", "latest:\(src)"], ["diff", String(ids[0].prefix(8)), String(ids[1].prefix(8))], ["stats"],
                ["backup", src], ["check"], ["check", "--read-data"], ["gc"], ["repair", "index"], ["repair", "snapshots"],
                ["unlock"], ["unlock", "--remove-all"], ["key", "list"],
            ]
            for (n, args) in commands.enumerated() {
                // A different password for every command; a near miss (one space more) for some.
                let near = n % 4 == 0
                for password: PasswordSource in near ? [.value("not the password"), .value(s.password + " ")] : [.value("not the password")] {
                    let r = try await s.kura(args, password: password)
                    #expect(r.status == 12, "\(r)")
                    #expect(r.err.contains("wrong password"), "\(r)")
                    #expect(!r.err.contains(s.password), "the real password appears in the message: \(r)")
                }
            }
            #expect(faultObjects(s.repo, "") == before, "a command with a wrong password changed the repository")
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    @Test func aNewerFormatVersionIsRefusedWithoutChangingAnything() async throws {
        try await withSandbox { s in
            let (src, _) = try await prepare(s)
            let configPath = s.repo + "/config"
            let text = String(decoding: try RawFS.read(Array(configPath.utf8)), as: UTF8.self)
            try #require(text.contains("\"version\" : 1"), "\(text)")
            try FaultDamage.rewrite(configPath, Array(text.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 99").utf8))
            let changed = try RawFS.read(Array(configPath.utf8))
            let before = faultObjects(s.repo, "")
            let target = s.path("r")
            let commands: [[String]] = [
                ["snapshots"], ["ls", "latest"], ["cat", "latest:\(src)/a.txt"], ["restore", "latest", "--target", target],
                ["backup", src], ["check"], ["gc"], ["repair", "index"], ["unlock"], ["key", "list"], ["stats"],
            ]
            for args in commands {
                for password: PasswordSource in [.environment, .none] {
                    let r = try await s.kura(args, password: password)
                    #expect(r.status == 1, "\(r)")
                    #expect(r.err.contains("99") && r.err.contains("upgrade"), "the message does not say to upgrade: \(r)")
                }
            }
            let json = try await s.kura(["snapshots", "--json"])
            #expect((try? json.jsonObject())?["code"] as? String == "unsupportedVersion", "\(json)")
            // init refuses to overwrite it.
            let initAgain = try await s.kura(["init"])
            #expect(initAgain.status != 0, "\(initAgain)")
            #expect(try RawFS.read(Array(configPath.utf8)) == changed, "the config was rewritten")
            #expect(faultObjects(s.repo, "") == before, "a refused command changed the repository")
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    @Test(.enabled(if: bindUnavailable == nil, bindReason))
    func aReadOnlyRepository() async throws {
        try await withSandbox { s in
            let (src, ids) = try await prepare(s)
            let ro = s.path("ro")
            try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
            try TestMount.bindReadOnly(s.repo, ro)
            defer { TestMount.unmount(ro) }
            func run(_ args: [String]) async throws -> RunResult { try await s.kura(args, repo: .path(ro)) }

            // Reading works.
            let list = try await run(["snapshots", "--json"])
            #expect(list.status == 0 && snapshotIDs((try? list.jsonArray()) ?? []) == ids, "\(list)")
            let ls = try await run(["ls", "latest:\(src)"])
            #expect(ls.status == 0 && ls.out.contains(src + "/sub/c.txt"), "\(ls)")
            let cat = try await run(["cat", "latest:\(src)/sub/b.txt"])
            #expect(cat.status == 0 && cat.out == "beta\n", "\(cat)")
            let target = s.path("restored")
            let restore = try await run(["restore", "latest:\(src)", "--target", target])
            #expect(restore.status == 0, "\(restore)")
            #expect(treeDifferences(expected: try scanTree(src), actual: try scanTree(target)).isEmpty)
            let diff = try await run(["diff", String(ids[0].prefix(8)), String(ids[1].prefix(8))])
            #expect(diff.status == 0 && diff.out.contains(src + "/sub/c.txt"), "\(diff)")
            let stats = try await run(["stats"])
            #expect(stats.status == 0, "\(stats)")
            let check = try await run(["check", "--read-data"])
            #expect(check.status == 0, "check does not work on a read-only repository: \(check)")

            // Writing fails clearly.
            try writeText(src + "/d.txt", "delta\n")
            let backup = try await run(["backup", src])
            #expect(backup.status == 1, "\(backup)")
            #expect(backup.err.contains("read-only"), "the message does not say the repository is read-only: \(backup)")
            let gc = try await run(["gc"])
            #expect(gc.status == 1 && gc.err.contains("read-only"), "\(gc)")
            // Nothing changed underneath.
            #expect(try await s.snapshots().count == 2)
            #expect(faultObjects(s.repo, "locks").isEmpty)
        }
    }
}
