import Foundation
import KuraTestSupport
import Testing

/// Defects a hostile operator found (issue 10), each tried the way the operator did.
@Suite("a hostile operator's findings")
struct HostileOperatorTests {
    @Test("gc refuses while any snapshot cannot be read, names it and the way out, and deletes nothing")
    func gcRefusesOnAnUnreadableSnapshot() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])
            try writeText(src + "/new.txt", String(repeating: "new data ", count: 5000))
            try await s.backup([src])
            let snaps = faultObjects(s.repo, "snapshots")
            try #require(snaps.count == 2)
            let victim = snaps[0]
            try FaultDamage.truncate(s.repo + "/" + victim, to: 20)
            let packsBefore = faultObjects(s.repo, "data")
            let gc = try await s.kura(["gc"])
            #expect(gc.status == 1, "\(gc)")
            let id = String(victim.split(separator: "/").last!)
            #expect(gc.err.contains(String(id.prefix(8))) && gc.err.contains("kura forget"), "\(gc)")
            #expect(faultObjects(s.repo, "data") == packsBefore, "gc deleted packs")
            // The way out: forget the lost snapshot by id; then gc runs.
            #expect(try await s.kura(["forget", String(id.prefix(8))]).status == 0)
            #expect(try await s.kura(["gc"]).status == 0)
            #expect(try await s.kura(["check", "--read-data"]).status == 0)
        }
    }

    /// A repository with one backup of a small tree whose data is in one pack, then that pack deleted.
    func repositoryWithALostPack(_ s: Sandbox) async throws -> String {
        let src = s.path("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        for i in 0..<4 { try Data(randomBytes(200_000, seed: UInt64(i + 1))).write(to: URL(fileURLWithPath: src + "/f\(i).bin")) }
        try await s.backup([src])
        // The biggest pack holds the file data (trees are in a small one).
        let packs = faultObjects(s.repo, "data").sorted { faultSize(s.repo + "/" + $0) > faultSize(s.repo + "/" + $1) }
        try FileManager.default.removeItem(atPath: s.repo + "/" + packs[0])
        return src
    }

    @Test("after a pack is lost, check says to run repair index first, and the next backup stores the lost chunks again instead of reusing them")
    func lostPackAfterCheck() async throws {
        try await withRepository { s in
            let src = try await repositoryWithALostPack(s)
            let check = try await s.kura(["check"])
            #expect(check.status == 1 && check.out.contains("repair index` first"), "\(check)")
            let report = try await s.backup([src])
            #expect(faultBytesAdded(report) >= 800_000, "the backup reused lost chunks: \(report)")
            let target = s.path("restored")
            let restore = try await s.kura(["restore", "latest", "--target", target])
            #expect(restore.status == 0, "\(restore)")
            for i in 0..<4 {
                #expect(FileManager.default.contents(atPath: target + src + "/f\(i).bin") == Data(randomBytes(200_000, seed: UInt64(i + 1))))
            }
            // The chunks are back (same content, same ids): the first snapshot is whole again.
            let healed = try await s.kura(["check", "--read-data"])
            #expect(healed.status == 0, "\(healed)")
            #expect(try await s.kura(["repair", "index"]).status == 0)
            #expect(faultObjects(s.repo, "records/missing-packs").isEmpty, "the marker outlived repair index")
        }
    }

    @Test("repair snapshots sees data lost with a pack that the index still lists, and rewrites the snapshot")
    func repairSnapshotsAfterALostPack() async throws {
        try await withRepository { s in
            _ = try await repositoryWithALostPack(s)
            let repair = try await s.kura(["repair", "snapshots", "--forget"])
            #expect(repair.status == 0 && repair.out.contains("dropped from the index") && repair.out.contains("→"), "\(repair)")
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
        }
    }

    @Test("a --force-reread backup after a pack is lost stores its chunks again, even without a check first")
    func lostPackForceReread() async throws {
        try await withRepository { s in
            let src = try await repositoryWithALostPack(s)
            let plain = try await s.kura(["backup", "--json", src])
            let plainAdded = faultBytesAdded(try plain.jsonObject())
            #expect(plain.status == 0 && plainAdded == 0, "unchanged files are not reread: \(plain)")
            let report = try await s.backup([src], ["--force-reread"])
            #expect(faultBytesAdded(report) >= 800_000, "the forced backup reused lost chunks: \(report)")
            let target = s.path("restored")
            #expect(try await s.kura(["restore", "latest", "--target", target]).status == 0)
            #expect(FileManager.default.contents(atPath: target + src + "/f3.bin") == Data(randomBytes(200_000, seed: 4)))
        }
    }

    @Test("a path below a symlinked folder is backed up (the folder is followed, the path stored as given); a symlink given as the path is stored as a link, with a warning")
    func symlinkedParent() async throws {
        try await withRepository { s in
            let real = s.path("disk2/docker")
            try FileManager.default.createDirectory(atPath: real + "/volumes/app", withIntermediateDirectories: true)
            try writeText(real + "/volumes/app/data.txt", "volume data\n")
            let link = s.path("docker")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
            let backup = try await s.kura(["backup", link + "/volumes/app"])
            #expect(backup.status == 0, "\(backup)")
            let cat = try await s.kura(["cat", "latest:" + link + "/volumes/app/data.txt"])
            #expect(cat.status == 0 && cat.out == "volume data\n", "\(cat)")
            let target = s.path("restored")
            #expect(try await s.kura(["restore", "latest", "--target", target]).status == 0)
            #expect(FileManager.default.contents(atPath: target + link + "/volumes/app/data.txt") == Data("volume data\n".utf8))
            let asLink = try await s.kura(["backup", link])
            #expect(asLink.status == 0 && asLink.err.contains("is a symlink"), "\(asLink)")
        }
    }

    @Test("files whose size reads 0 but have content (/proc) are stored with their content")
    func pseudoFiles() async throws {
        try await withRepository { s in
            let expected = try #require(FileManager.default.contents(atPath: "/proc/version"))
            try #require(!expected.isEmpty)
            #expect(try await s.kura(["backup", "/proc/version"]).status == 0)
            let cat = try await s.kura(["cat", "latest:/proc/version"])
            #expect(cat.status == 0 && Data(cat.out.utf8) == expected, "\(cat)")
            let ls = try await s.kura(["ls", "--json", "latest"])
            #expect(ls.out.contains("\"size\":\(expected.count)"), "\(ls.out)")
        }
    }

    @Test("global options before the command work, as restic users type them: kura -r REPO snapshots, kura --repo REPO --json key list")
    func globalOptionsFirst() async throws {
        try await withRepository { s in
            let list = try await s.kura(["-r", s.repo, "snapshots", "--json"], repo: .none)
            #expect(list.status == 0 && list.out.hasPrefix("["), "\(list)")
            let keys = try await s.kura(["--repo", s.repo, "--json", "key", "list"], repo: .none)
            #expect(keys.status == 0 && keys.out.hasPrefix("["), "\(keys)")
            let bad = try await s.kura(["-r", s.repo, "no-such-command"], repo: .none)
            #expect(bad.status == 64, "\(bad)")
        }
    }
}
