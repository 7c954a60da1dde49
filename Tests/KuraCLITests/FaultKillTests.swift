import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// kill -9 at random moments during `backup` and `gc`. After every kill: `check --read-data` passes
/// (stale locks of the dead process only warn), every snapshot completed before the kill restores
/// exactly, the next backup and the next gc succeed, and `unlock` removes the dead process's lock.
///
/// Trials: $KURA_FAULT_TRIALS in total (default 25): 3/5 during backup, the rest during gc.
/// Seed: $KURA_FAULT_SEED (printed in every failure).
@Suite("fault injection: kill -9 during backup and gc")
struct FaultKillTests {
    static var backupTrials: Int { max(1, FaultConfig.trials * 3 / 5) }
    static var gcTrials: Int { max(1, FaultConfig.trials - backupTrials) }

    /// A snapshot that was completed, with the tree it holds.
    struct Completed {
        var id: String
        var files: [String: FaultTree.Spec]
    }

    /// Restores `snapshot:src` and compares it with its manifest.
    func verifyByRestore(_ s: Sandbox, _ snap: Completed, src: String, context: String) async throws {
        let target = s.path("verify-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(atPath: target) }
        let r = try await s.kura(["restore", "-q", "\(snap.id):\(src)", "--target", target])
        #expect(r.status == 0, "\(context): restore of snapshot \(snap.id.prefix(8)) failed: \(r)")
        guard r.status == 0 else { return }
        let problems = try FaultTree.differences(snap.files, restoredAt: target)
        #expect(problems.isEmpty, "\(context): snapshot \(snap.id.prefix(8)) does not restore what was backed up: \(problems.prefix(10))")
    }

    /// `cat`s a few files of the snapshot and compares their bytes.
    func verifyByCat(_ s: Sandbox, _ snap: Completed, src: String, count: Int, rng: inout SplitMix64, context: String) async throws {
        for rel in snap.files.keys.sorted().shuffled(using: &rng).prefix(count) {
            let r = try await s.kura(["cat", "\(snap.id):\(src)/\(rel)"])
            #expect(r.status == 0 && r.stdout == Data(FaultTree.contents(snap.files[rel]!)),
                    "\(context): cat \(snap.id.prefix(8)):\(rel) gave \(r.stdout.count) bytes (expected \(snap.files[rel]!.size)), status \(r.status): \(r.err.prefix(500))")
        }
    }

    /// Lock objects in the repository (their keys, "locks/…").
    func locks(_ s: Sandbox) -> [String] { faultObjects(s.repo, "locks") }

    @Test func killDuringBackup() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("killDuringBackup")
            let seed = FaultConfig.seed
            // Small packs, so that a backup uploads several packs before its end.
            try await s.kuraOK(["init", "-q", "--pack-size", "1"])
            let src = s.path("src")
            var tree = FaultTree(root: src, seed: rng.next())
            try tree.populate(files: 250, rng: &rng)

            // A normal run, timed: kills land between 0 and this. The machine's load changes, so the
            // estimate follows it: a run that ends before its kill is a new measurement, a killed one
            // stretches the estimate by 10 % (so that late moments keep being tried).
            let repo = s.repo
            let timing = try FaultChild.kura(s, ["backup", "--json", src])
            let locked = await timing.firstTime { !faultObjects(repo, "locks").isEmpty }
            let first = timing.result(await timing.wait())
            try #require(first.status == 0, "\(first)")
            var normal = (timing.finished ?? Date()).timeIntervalSince(timing.started)
            // Every other kill lands after the lock was taken (when the run does its work): a debug
            // build spends a good part of a short run starting up and deriving the key.
            let working = locked ?? 0
            var completed = [Completed(id: try #require(try first.jsonObject()["snapshot"] as? String), files: tree.files)]

            var sumAdded = 0, sumTree = 0, killedRunning = 0, locksLeft = 0, unlocked = 0
            for trial in 0..<Self.backupTrials {
                let context = "backup trial \(trial) (KURA_FAULT_SEED=\(seed))"
                // New data every time (and some changed and deleted files), about 1 MB.
                try tree.mutate(addBytes: Int.random(in: 300_000...1_000_000, using: &rng), modify: 5, delete: 8, rng: &rng)
                let delay = Double.random(in: (trial % 2 == 0 ? 0 : min(working, normal * 0.8))...normal, using: &rng)
                let child = try FaultChild.kura(s, ["backup", "--json", src])
                _ = await child.kill9(after: delay)
                let exit = child.result(await child.wait())
                if exit.status == 128 + SIGKILL { killedRunning += 1; normal *= 1.1 } else { normal = max(0.05, (child.finished ?? Date()).timeIntervalSince(child.started)) }
                #expect(exit.status == 0 || exit.status == 128 + SIGKILL, "\(context): the backup neither finished nor was killed: \(exit)")

                // Snapshots: every completed one is still there; the killed run added at most one
                // (when the kill came after its commit point), and that one is complete.
                let ids = faultObjects(s.repo, "snapshots").map { String($0.dropFirst("snapshots/".count)) }
                for c in completed { #expect(ids.contains(c.id), "\(context): snapshot \(c.id.prefix(8)) completed before the kill is gone") }
                let new = ids.filter { id in !completed.contains { $0.id == id } }
                #expect(new.count <= 1, "\(context): \(new.count) new snapshots after one killed backup")
                if exit.status == 0 { #expect(new.count == 1, "\(context): the backup exited 0 but saved no snapshot") }
                if let id = new.first { completed.append(Completed(id: id, files: tree.files)) }

                // check --read-data passes, whatever lock the dead process left.
                let left = locks(s)
                if !left.isEmpty { locksLeft += 1 }
                let check = try await s.kura(["check", "--read-data"])
                #expect(check.status == 0, "\(context): check after kill -9 at \(String(format: "%.3f", delay)) s failed: \(check)")
                #expect(!check.out.contains("DAMAGED"), "\(context): \(check)")

                // unlock removes the dead process's lock (every other trial; the others leave it for the next commands).
                if !left.isEmpty, trial % 2 == 0 {
                    let u = try await s.kura(["unlock", "--json"])
                    #expect(u.status == 0, "\(context): \(u)")
                    let removed = (try? u.jsonObject())?["removed"] as? [String] ?? []
                    #expect(Set(left).isSubset(of: Set(removed)), "\(context): unlock removed \(removed), the dead process left \(left)")
                    #expect(locks(s).isEmpty, "\(context): locks remain after unlock: \(locks(s))")
                    unlocked += 1
                }

                // Completed snapshots are intact: the newest restores exactly; every other time a file
                // of an older one is compared too.
                try await verifyByRestore(s, completed.last!, src: src, context: context)
                if completed.count > 1, trial % 2 == 1 {
                    let older = completed[Int.random(in: 0..<(completed.count - 1), using: &rng)]
                    try await verifyByCat(s, older, src: src, count: 1, rng: &rng, context: context)
                }

                // The next backup succeeds and stores the tree as it is.
                let next = try await s.kura(["backup", "--json", src])
                #expect(next.status == 0, "\(context): the backup after the kill failed: \(next)")
                guard next.status == 0, let report = try? next.jsonObject(), let id = report["snapshot"] as? String else { continue }
                sumAdded += faultBytesAdded(report)
                sumTree += tree.totalBytes
                completed.append(Completed(id: id, files: tree.files))
            }
            #expect(killedRunning > 0, "no kill landed while a backup ran: the trials tested nothing (normal run \(normal) s)")
            // What killed runs stored, or earlier snapshots hold, is not stored again.
            #expect(sumAdded < sumTree, "follow-up backups added \(sumAdded) bytes for trees of \(sumTree) bytes in total (KURA_FAULT_SEED=\(seed))")

            // In the end: gc works, and everything is still verifiable and restorable.
            let gc = try await s.kura(["gc", "--max-unused", "0%"])
            #expect(gc.status == 0, "\(gc)")
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
            try await verifyByRestore(s, completed.last!, src: src, context: "after all backup trials")
            try await verifyByRestore(s, completed[0], src: src, context: "after all backup trials")
            print("killDuringBackup: \(Self.backupTrials) trials, normal run \(String(format: "%.2f", normal)) s (lock after \(String(format: "%.2f", working)) s), \(killedRunning) killed while running, \(locksLeft) left a lock, \(unlocked) unlocked; follow-up backups added \(sumAdded) of \(sumTree) bytes")
        }
    }

    @Test func killDuringGC() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("killDuringGC")
            let seed = FaultConfig.seed
            try await s.kuraOK(["init", "-q", "--pack-size", "1"])
            let src = s.path("src")
            var tree = FaultTree(root: src, seed: rng.next())
            try tree.populate(files: 200, rng: &rng)
            let base = try await s.backup([src])
            var kept = [Completed(id: try #require(base["snapshot"] as? String), files: tree.files)]

            /// Garbage for gc: back up tree A, change it into tree B, back up B, remove A's snapshot
            /// (every other time by deleting its file, else with `kura forget`).
            var removals = 0
            func makeGarbage() async throws {
                try tree.mutate(addBytes: Int.random(in: 500_000...1_200_000, using: &rng), modify: 10, delete: 5, rng: &rng)
                let a = try #require(try await s.backup([src])["snapshot"] as? String)
                try tree.mutate(addBytes: Int.random(in: 100_000...400_000, using: &rng), modify: 10, delete: 30, rng: &rng)
                let b = try #require(try await s.backup([src])["snapshot"] as? String)
                removals += 1
                if removals % 2 == 0 {
                    try await s.kuraOK(["forget", String(a.prefix(8))])
                } else {
                    try FileManager.default.removeItem(atPath: s.repo + "/snapshots/" + a)
                }
                kept.append(Completed(id: b, files: tree.files))
            }

            // A normal gc, timed.
            try await makeGarbage()
            let repo = s.repo
            let timing = try FaultChild.kura(s, ["gc", "--json", "--max-unused", "0%"])
            let locked = await timing.firstTime { !faultObjects(repo, "locks").isEmpty }
            let calibration = timing.result(await timing.wait())
            try #require(calibration.status == 0, "\(calibration)")
            var normal = (timing.finished ?? Date()).timeIntervalSince(timing.started)
            let working = locked ?? 0
            let freed = (try? calibration.jsonObject())?["bytesFreed"] as? Int ?? 0
            #expect(freed > 0, "the timed gc freed nothing: \(calibration)")

            var killedRunning = 0, locksLeft = 0
            for trial in 0..<Self.gcTrials {
                let context = "gc trial \(trial) (KURA_FAULT_SEED=\(seed))"
                try await makeGarbage()
                let delay = Double.random(in: (trial % 2 == 0 ? 0 : min(working, normal * 0.8))...normal, using: &rng)
                let child = try FaultChild.kura(s, ["gc", "--json", "--max-unused", "0%"])
                _ = await child.kill9(after: delay)
                let exit = child.result(await child.wait())
                if exit.status == 128 + SIGKILL { killedRunning += 1; normal *= 1.1 } else { normal = max(0.05, (child.finished ?? Date()).timeIntervalSince(child.started)) }
                #expect(exit.status == 0 || exit.status == 128 + SIGKILL, "\(context): gc neither finished nor was killed: \(exit)")

                // The kept snapshots are all there, and nothing else.
                let ids = Set(faultObjects(s.repo, "snapshots").map { String($0.dropFirst("snapshots/".count)) })
                #expect(ids == Set(kept.map(\.id)), "\(context): snapshots \(ids.sorted()) after the killed gc, expected \(kept.map(\.id).sorted())")

                // check --read-data passes; a dead gc's exclusive lock is ignored with a warning.
                let left = locks(s)
                if !left.isEmpty { locksLeft += 1 }
                let check = try await s.kura(["check", "--read-data"])
                #expect(check.status == 0, "\(context): check after gc was killed at \(String(format: "%.3f", delay)) s failed: \(check)")
                #expect(!check.out.contains("DAMAGED"), "\(context): \(check)")
                if !left.isEmpty { #expect(check.err.contains("stale lock"), "\(context): the dead gc's lock \(left) was not reported: \(check)") }

                // Kept snapshots restore exactly: the newest in full; every other time a file of an older one.
                try await verifyByRestore(s, kept.last!, src: src, context: context)
                if trial % 2 == 1 {
                    let older = kept[Int.random(in: 0..<(kept.count - 1), using: &rng)]
                    try await verifyByCat(s, older, src: src, count: 1, rng: &rng, context: context)
                }

                // Sometimes a backup runs between the killed gc and the next one.
                if trial % 3 == 1 {
                    let b = try await s.kura(["backup", "--json", src])
                    #expect(b.status == 0, "\(context): backup after the killed gc failed: \(b)")
                    if let id = (try? b.jsonObject())?["snapshot"] as? String { kept.append(Completed(id: id, files: tree.files)) }
                }

                // The next gc succeeds and finishes the job: nothing is left to delete or repack.
                let gc = try await s.kura(["gc", "--json", "--max-unused", "0%"])
                #expect(gc.status == 0, "\(context): the gc after the killed one failed: \(gc)")
                let plan = try await s.kura(["gc", "--json", "--dry-run", "--max-unused", "0%"])
                if let p = try? plan.jsonObject() {
                    #expect(p["packsDeleted"] as? Int == 0 && p["orphanPacksDeleted"] as? Int == 0 && p["packsRepacked"] as? Int == 0,
                            "\(context): after the follow-up gc there is still work: \(plan.out)")
                } else {
                    Issue.record("\(context): gc --dry-run failed: \(plan)")
                }
            }
            #expect(killedRunning > 0, "no kill landed while gc ran: the trials tested nothing (normal gc \(normal) s)")
            // The dead processes' locks are removable, and everything verifies in the end.
            let u = try await s.kura(["unlock"])
            #expect(u.status == 0, "\(u)")
            #expect(locks(s).isEmpty, "locks remain after unlock: \(locks(s))")
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
            for snap in [kept[0]] + kept.dropFirst().shuffled(using: &rng).prefix(3) {
                try await verifyByRestore(s, snap, src: src, context: "after all gc trials")
            }
            print("killDuringGC: \(Self.gcTrials) trials, normal gc \(String(format: "%.2f", normal)) s (lock after \(String(format: "%.2f", working)) s), \(killedRunning) killed while running, \(locksLeft) left a lock")
        }
    }

    /// A deterministic kill in the middle of uploading (after 10 of about 20 packs): the run's lock is
    /// left behind (unlock removes it). docs/design.md §8: what a killed backup uploaded is "reused by
    /// the next backup through the index" — so the next backup must not store all of it again.
    @Test func uploadsOfAKilledBackupAreReusedAndItsLockIsRemovable() async throws {
        try await withFaultSandbox { s in
            try await s.kuraOK(["init", "-q", "--pack-size", "1"])
            let src = s.path("src")
            var tree = FaultTree(root: src, seed: 77)
            for i in 0..<40 { try tree.write(String(format: "big/%02d.bin", i), size: 600_000) }
            let total = tree.totalBytes

            let child = try FaultChild.kura(s, ["backup", "--json", src])
            // Kill once at least 10 data packs (of about 20) are stored.
            let repo = s.repo
            _ = await child.kill9(when: { faultObjects(repo, "data").count >= 10 }, timeout: 100)
            let exit = child.result(await child.wait())
            try #require(exit.status == 128 + SIGKILL, "the backup ended before 10 packs were seen; cannot test: \(exit)")
            let uploaded = faultObjects(s.repo, "data")
            #expect(uploaded.count >= 10)
            #expect(try await s.snapshots().isEmpty, "a killed backup saved a snapshot")

            // The dead process's lock: check ignores it, unlock removes it.
            let left = locks(s)
            #expect(left.count == 1, "the killed backup held one lock: \(left)")
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
            let u = try await s.kura(["unlock", "--json"])
            #expect(u.status == 0, "\(u)")
            #expect((try? u.jsonObject())?["removed"] as? [String] == left, "\(u)")
            #expect(locks(s).isEmpty)

            // The next backup reuses the uploaded packs.
            let report = try await s.backup([src])
            let added = faultBytesAdded(report)
            #expect(added < total,
                    "the killed backup uploaded \(uploaded.count) packs (≈\(uploaded.count * 1_200_000) of the \(total) bytes), but the next backup stored everything again: bytesAdded = \(added)")

            // And the repository is clean afterwards.
            let gc = try await s.kura(["gc", "--max-unused", "0%"])
            #expect(gc.status == 0, "\(gc)")
            let after = try await s.kura(["check", "--read-data"])
            #expect(after.status == 0 && !after.err.contains("in no index"), "\(after)")
            let id = try #require(report["snapshot"] as? String)
            try await verifyByRestore(s, Completed(id: id, files: tree.files), src: src, context: "after the killed backup")
        }
    }
}
