import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A repository on a small tmpfs that fills up during a backup: the backup fails (exit 1) saying the
/// storage is full, saves no snapshot, leaves no temporary file or lock, `check` passes, the earlier
/// snapshot is intact, and once there is room again a backup succeeds.
@Suite("fault injection: the repository's storage is full")
struct FaultDiskFullTests {
    static let unavailable = TestMount.tmpfsUnavailableReason
    static let reason = Comment(rawValue: "needs a tmpfs mount: \(unavailable ?? "")")

    /// Runs `body` with an 8 MiB tmpfs mounted in the sandbox, unmounted whatever happens.
    func withTmpfs(_ s: Sandbox, size: String = "8m", _ body: (String) async throws -> Void) async throws {
        let dir = s.path("tmpfs")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try TestMount.mountTmpfs(dir, options: "size=\(size),mode=0700")
        defer { TestMount.unmount(dir) }
        try await body(dir)
    }

    /// With the default 16 MiB packs the storage fills when the one pack is written at the end; with
    /// 1 MiB packs it fills while files are being saved (a pack is written when one of them fills it).
    @Test(.enabled(if: unavailable == nil, reason), arguments: [16, 1])
    func backupBiggerThanTheSpaceFailsCleanly(packSizeMiB: Int) async throws {
        try await withFaultSandbox("backupBiggerThanTheSpace\(packSizeMiB)") { s in
            try await withTmpfs(s) { mnt in
                let repo = mnt + "/repo"
                try await faultKuraOK(s, ["init", "-q", "--pack-size", String(packSizeMiB)], repo: repo)
                let src = s.path("src")
                var tree = FaultTree(root: src, seed: 11)
                for i in 0..<20 { try tree.write("keep/k\(i).txt", size: 5_000) }
                let first = try await faultKuraOK(s, ["backup", "--json", src], repo: repo)
                let firstID = try #require(try first.jsonObject()["snapshot"] as? String)
                let snapshotsBefore = faultObjects(repo, "snapshots")

                // 12 MB of incompressible data into 8 MiB.
                for i in 0..<6 { try tree.write("big/b\(i).bin", size: 2_000_000) }
                let full = try await s.kura(["backup", src], repo: .path(repo))
                #expect(full.status == 1, "a backup that could not store its data must fail, and save no snapshot: \(full)")
                #expect(full.err.contains("storage is full"), "the message does not say that the storage is full: \(full)")
                #expect(!full.out.contains("saved"), "\(full)")
                #expect(faultObjects(repo, "snapshots") == snapshotsBefore, "a snapshot was saved by the failed backup")
                #expect(faultTemporaryFiles(repo).isEmpty, "temporary files left: \(faultTemporaryFiles(repo))")
                #expect(faultObjects(repo, "locks").isEmpty, "the failed backup left its lock: \(faultObjects(repo, "locks"))")

                // Nothing written is referenced: check passes; the first snapshot is intact.
                let check = try await s.kura(["check", "--read-data"], repo: .path(repo))
                #expect(check.status == 0, "\(check)")
                let list = try await s.kura(["snapshots", "--json"], repo: .path(repo))
                #expect(snapshotIDs((try? list.jsonArray()) ?? []) == [firstID], "\(list)")
                let cat = try await s.kura(["cat", "\(firstID):\(src)/keep/k3.txt"], repo: .path(repo))
                #expect(cat.status == 0 && cat.stdout == Data(FaultTree.contents(tree.files["keep/k3.txt"]!)), "\(cat)")

                // Room again: the backup succeeds and restores exactly.
                for i in 0..<6 { try tree.remove("big/b\(i).bin") }
                try tree.write("keep/new.txt", size: 50_000)
                let ok = try await s.kura(["backup", "--json", src], repo: .path(repo))
                #expect(ok.status == 0, "\(ok)")
                let after = try await s.kura(["check", "--read-data"], repo: .path(repo))
                #expect(after.status == 0, "\(after)")
                let target = s.path("restored")
                let restore = try await s.kura(["restore", "-q", "latest:\(src)", "--target", target], repo: .path(repo))
                #expect(restore.status == 0, "\(restore)")
                let problems = try FaultTree.differences(tree.files, restoredAt: target)
                #expect(problems.isEmpty, "\(problems.prefix(10))")
            }
        }
    }

    /// The way out of a full repository is to check it, forget old snapshots and run gc: that must
    /// work when not a byte is free (the hint of the storage-full error says to free space).
    @Test(.enabled(if: unavailable == nil, reason))
    func aFullRepositoryCanBeCheckedAndSpaceFreed() async throws {
        try await withFaultSandbox { s in
            try await withTmpfs(s, size: "6m") { mnt in
                let repo = mnt + "/repo"
                try await faultKuraOK(s, ["init", "-q", "--pack-size", "1"], repo: repo)
                let src = s.path("src")
                var tree = FaultTree(root: src, seed: 21)
                try tree.write("keep.txt", size: 3_000)
                try tree.write("old.bin", size: 2_500_000)
                let old = try #require(try await faultKuraOK(s, ["backup", "--json", src], repo: repo).jsonObject()["snapshot"] as? String)
                try tree.remove("old.bin")
                try await faultKuraOK(s, ["backup", "-q", src], repo: repo)
                // Fill the file system to the last byte.
                var fs = statvfs()
                try #require(statvfs(mnt, &fs) == 0)
                try? RawFS.write(Array((mnt + "/filler").utf8), [UInt8](repeating: 0x5A, count: Int(fs.f_bavail) * Int(fs.f_frsize)))
                try #require(statvfs(mnt, &fs) == 0)
                let freeBefore = Int(fs.f_bavail) * Int(fs.f_frsize)

                let check = try await s.kura(["check"], repo: .path(repo))
                #expect(check.status == 0, "check cannot run on a full repository: \(check)")
                let forget = try await s.kura(["forget", String(old.prefix(8))], repo: .path(repo))
                #expect(forget.status == 0, "forget cannot remove a snapshot from a full repository: \(forget)")
                if forget.status != 0 { try? FileManager.default.removeItem(atPath: repo + "/snapshots/" + old) }
                let gc = try await s.kura(["gc"], repo: .path(repo))
                #expect(gc.status == 0, "gc cannot free space in a full repository: \(gc)")
                try #require(statvfs(mnt, &fs) == 0)
                let freeAfter = Int(fs.f_bavail) * Int(fs.f_frsize)
                #expect(freeAfter > freeBefore + 2_000_000, "gc freed \(freeAfter - freeBefore) bytes of the 2.5 MB only the forgotten snapshot used")

                // Nothing was damaged on the way.
                try? FileManager.default.removeItem(atPath: mnt + "/filler")
                let after = try await s.kura(["check", "--read-data"], repo: .path(repo))
                #expect(after.status == 0, "\(after)")
                let cat = try await s.kura(["cat", "latest:\(src)/keep.txt"], repo: .path(repo))
                #expect(cat.status == 0 && cat.stdout == Data(FaultTree.contents(tree.files["keep.txt"]!)), "\(cat)")
            }
        }
    }

    /// The storage fills at a random point of the write sequence (a pack, the tree pack, the index or
    /// the snapshot): a failing backup saves nothing and damages nothing; a succeeding one is complete.
    @Test(.enabled(if: unavailable == nil, reason))
    func storageFullAtRandomPointsOfABackup() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("disk-full-random")
            try await withTmpfs(s) { mnt in
                let repo = mnt + "/repo"
                try await faultKuraOK(s, ["init", "-q", "--pack-size", "1"], repo: repo)
                let src = s.path("src")
                var tree = FaultTree(root: src, seed: rng.next())
                try tree.populate(files: 30, folders: 3, rng: &rng)
                try await faultKuraOK(s, ["backup", "-q", src], repo: repo)
                let filler = mnt + "/filler"
                var failures = 0, successes = 0, others = 0
                for trial in 0..<6 {
                    let context = "trial \(trial), storage full at a random point (KURA_FAULT_SEED=\(FaultConfig.seed))"
                    // A new batch of 1.2 MB replaces the previous one.
                    for rel in tree.files.keys where rel.hasPrefix("batch/") { try tree.remove(rel) }
                    for i in 0..<6 { try tree.write("batch/\(trial)-\(i).bin", size: 200_000) }
                    // How much room to leave, in three bands (the backup writes a 1 MiB pack while files
                    // are saved, then the rest at the end: a 0.2 MB pack, a tree pack, the index, the snapshot):
                    // almost none; less than the first pack but enough for the end; about all but the end.
                    var fs = statvfs()
                    try #require(statvfs(mnt, &fs) == 0)
                    let free = Int(fs.f_bavail) * Int(fs.f_frsize)
                    let bands = [0...150_000, 300_000...950_000, 1_100_000...1_350_000]
                    let leave = Int.random(in: bands[trial % 3], using: &rng)
                    if free > leave { try RawFS.write(Array(filler.utf8), [UInt8](repeating: 0xA5, count: free - leave)) }
                    let before = faultObjects(repo, "snapshots")
                    let r = try await s.kura(["backup", "--json", src], repo: .path(repo))
                    try? FileManager.default.removeItem(atPath: filler)
                    #expect(r.status == 0 || r.status == 1, "\(context): \(r)")
                    if r.status == 1 {
                        failures += 1
                        #expect(r.err.contains("storage is full"), "\(context): \(r)")
                        #expect(faultObjects(repo, "snapshots") == before, "\(context): a failed backup saved a snapshot")
                    } else if r.status == 0 {
                        successes += 1
                    } else {
                        others += 1
                    }
                    #expect(faultTemporaryFiles(repo).isEmpty, "\(context): temporary files left: \(faultTemporaryFiles(repo))")
                    let check = try await s.kura(["check", "--read-data"], repo: .path(repo))
                    #expect(check.status == 0, "\(context): \(check)")
                    // With room again, the tree backs up and restores exactly.
                    let ok = try await s.kura(["backup", "--json", src], repo: .path(repo))
                    #expect(ok.status == 0, "\(context): \(ok)")
                    let target = s.path("restored-\(trial)")
                    let restore = try await s.kura(["restore", "-q", "latest:\(src)", "--target", target], repo: .path(repo))
                    #expect(restore.status == 0, "\(context): \(restore)")
                    #expect(try FaultTree.differences(tree.files, restoredAt: target).isEmpty, "\(context)")
                    try? FileManager.default.removeItem(atPath: target)
                    // Keep the file system from filling up with the trials: only the newest snapshot stays.
                    for key in faultObjects(repo, "snapshots").filter({ ok.status == 0 && !ok.out.contains(($0 as NSString).lastPathComponent) }) {
                        try FileManager.default.removeItem(atPath: repo + "/" + key)
                    }
                    let gc = try await s.kura(["gc", "-q", "--max-unused", "0%"], repo: .path(repo))
                    #expect(gc.status == 0, "\(context): \(gc)")
                }
                print("storageFullAtRandomPointsOfABackup: \(failures) backups failed for lack of space, \(successes) fitted, \(others) ended otherwise")
            }
        }
    }
}
