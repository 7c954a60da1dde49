import Foundation
import KuraRepository
import KuraStore
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kura copy`, run as the real binary against real folders: what the user checks afterwards is a
/// target that passes `check --read-data` and restores the source tree byte for byte.
@Suite("kura copy")
struct CopyTests {
    /// `kura init` of a target at `path` with the sandbox repository's chunker secret.
    func initTarget(_ s: Sandbox, _ path: String, _ extra: [String] = []) async throws {
        let r = try await s.kura(["init", "-q", "--copy-chunker-params-from", s.repo] + extra, repo: .path(path))
        try #require(r.status == 0, "\(r)")
    }

    /// `kura copy --to TARGET --json ARGS`, required to succeed; the JSON report.
    @discardableResult
    func copy(_ s: Sandbox, to target: String, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let r = try await s.kura(["copy", "--to", target, "--json"] + extra)
        try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        return try r.jsonObject()
    }

    /// `kura snapshots --json` of another repository.
    func snapshots(_ s: Sandbox, _ repo: String) async throws -> [[String: Any]] {
        let r = try await s.kura(["snapshots", "--json"], repo: .path(repo))
        try #require(r.status == 0, "\(r)")
        return try r.jsonArray()
    }

    func copiedFrom(_ list: [[String: Any]]) -> [String] {
        list.compactMap { ($0["snapshot"] as? [String: Any])?["copiedFrom"] as? String }
    }

    func number(_ report: [String: Any], _ key: String) -> Int { (report[key] as? NSNumber)?.intValue ?? -1 }

    /// Every object file of a repository (but locks) with its inode and size: a copy must neither
    /// delete nor replace any of them.
    func objectFiles(_ repo: String) -> [String: [UInt64]] {
        var out: [String: [UInt64]] = [:]
        for rel in (try? FileManager.default.subpathsOfDirectory(atPath: repo)) ?? [] where !rel.hasPrefix("locks") {
            var st = stat()
            guard lstat(repo + "/" + rel, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            out[rel] = [UInt64(st.st_ino), UInt64(st.st_size)]
        }
        return out
    }

    @Test("copy all: the target passes check --read-data and restores the source tree byte for byte; a second copy copies nothing; a new backup copies only its new blobs, and nothing in the target is deleted or replaced")
    func copyAllThenAgainThenIncremental() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src], ["--tag", "daily"])
            try RawFS.write(Array((src + "/data/second.bin").utf8), randomBytes(1_500_000, seed: 7))
            try await s.backup([src])
            let target = s.path("offsite")
            try await initTarget(s, target)

            let first = try await copy(s, to: target)
            #expect(number(first, "snapshotsCopied") == 2, "\(first)")
            #expect(number(first, "snapshotsSkipped") == 0)
            #expect(number(first, "bytesCopied") > 4_000_000, "\(first)")
            #expect(((first["verification"] as? [String: Any])?["snapshots"] as? Int) == 2, "\(first)")
            let sourceIDs = snapshotIDs(try await s.snapshots())
            let copies = try await snapshots(s, target)
            #expect(copies.count == 2)
            #expect(Set(copiedFrom(copies)) == Set(sourceIDs), "the copies record their sources: \(copies)")
            #expect((copies.first?["snapshot"] as? [String: Any])?["tags"] as? [String] == ["daily"])

            let check = try await s.kura(["check", "--read-data"], repo: .path(target))
            #expect(check.status == 0, "\(check)")
            let restored = s.path("restored")
            let r = try await s.kura(["restore", "latest", "--target", restored], repo: .path(target))
            try #require(r.status == 0, "\(r)")
            let differences = treeDifferences(expected: try scanTree(src), actual: try scanTree(restored + src))
            #expect(differences.isEmpty, "\(differences)")

            // Again: nothing new.
            let before = objectFiles(target)
            let second = try await copy(s, to: target)
            #expect(number(second, "snapshotsCopied") == 0, "\(second)")
            #expect(number(second, "snapshotsSkipped") == 2, "\(second)")
            #expect(number(second, "blobsCopied") == 0 && number(second, "bytesCopied") == 0, "\(second)")
            #expect(objectFiles(target) == before, "a copy with nothing to do changed the target")
            #expect(try await snapshots(s, target).count == 2)

            // A new backup with a small change: only its new blobs travel.
            try writeText(src + "/docs/new.txt", "a small new file\n")
            let backup = try await s.backup([src])
            let total = (backup["summary"] as? [String: Any]).flatMap { ($0["totalBytes"] as? NSNumber)?.intValue } ?? 0
            let third = try await copy(s, to: target, ["latest", "--verify-data"])
            #expect(number(third, "snapshotsCopied") == 1, "\(third)")
            let copiedBytes = number(third, "bytesCopied")
            #expect(copiedBytes > 0 && copiedBytes * 50 < total, "copied \(copiedBytes) bytes of a \(total)-byte snapshot")
            let verification = third["verification"] as? [String: Any]
            #expect(verification?["readData"] as? Bool == true && ((verification?["blobsRead"] as? NSNumber)?.intValue ?? 0) > 0, "\(third)")
            // Only additions: every object that was there is still there, the same file (same inode).
            let after = objectFiles(target)
            for (name, stat) in before { #expect(after[name] == stat, "\(name) was deleted or replaced by the copy") }
            #expect(after.count > before.count)
            #expect(faultObjects(target, "locks").isEmpty, "a lock was left behind")
            #expect(try await s.kura(["check", "--read-data"], repo: .path(target)).status == 0)
        }
    }

    @Test("selection: snapshot ids, latest, --tag and --source copy exactly those snapshots")
    func selection() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src], ["--tag", "daily"])
            try await s.backup([src], ["--tag", "weekly"])
            try await s.backup([src], ["--tag", "source:app", "--tag", "daily"])
            try await s.backup([src])
            let ids = snapshotIDs(try await s.snapshots())
            try #require(ids.count == 4)

            let byID = s.path("by-id")
            try await initTarget(s, byID)
            let one = try await copy(s, to: byID, [String(ids[1].prefix(8))])
            #expect(number(one, "snapshotsCopied") == 1)
            #expect(copiedFrom(try await snapshots(s, byID)) == [ids[1]])
            try await copy(s, to: byID, ["latest"])
            #expect(Set(copiedFrom(try await snapshots(s, byID))) == [ids[1], ids[3]])

            let byTag = s.path("by-tag")
            try await initTarget(s, byTag)
            let daily = try await copy(s, to: byTag, ["--tag", "daily"])
            #expect(number(daily, "snapshotsCopied") == 2, "\(daily)")
            #expect(Set(copiedFrom(try await snapshots(s, byTag))) == [ids[0], ids[2]])

            let bySource = s.path("by-source")
            try await initTarget(s, bySource)
            try await copy(s, to: bySource, ["--source", "app"])
            #expect(copiedFrom(try await snapshots(s, bySource)) == [ids[2]])

            let none = try await copy(s, to: bySource, ["--tag", "no-such-tag"])
            #expect(number(none, "snapshotsCopied") == 0 && number(none, "snapshotsSkipped") == 0)
        }
    }

    @Test("errors: a missing target exits 10, a wrong target password 12 (--to-password-file / KURA_TO_PASSWORD_FILE give the right one), a target held exclusively by another process 11; none copies anything")
    func errors() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])

            let missing = try await s.kura(["copy", "--to", s.path("nowhere")])
            #expect(missing.status == 10, "\(missing)")
            #expect(missing.err.contains("no kura repository") && missing.err.contains("nothing was copied"), "\(missing)")

            // A target with a password of its own.
            let target = s.path("offsite")
            let otherPassword = try s.passwordFile(contents: "the-offsite-password\n", name: "offsite-password")
            let made = try await s.kura(["init", "-q", "--copy-chunker-params-from", s.repo], repo: .path(target), password: .none,
                                        extra: ["KURA_PASSWORD_FILE": otherPassword, "KURA_FROM_PASSWORD_FILE": try s.passwordFile()])
            try #require(made.status == 0, "\(made)")
            let wrong = try await s.kura(["copy", "--to", target])
            #expect(wrong.status == 12, "\(wrong)")
            #expect(wrong.err.contains("--to-password-file"), "\(wrong)")
            #expect(faultObjects(target, "snapshots").isEmpty && faultObjects(target, "data").isEmpty)

            // Held exclusively by this test process (a second process beside the binary).
            let held = try await Repository.open(store: try StoreFactory.open(target), password: Array("the-offsite-password".utf8))
            try await held.withLock(.exclusive) { _ in
                let locked = try await s.kura(["copy", "--to", target, "--to-password-file", otherPassword])
                #expect(locked.status == 11, "\(locked)")
                #expect(locked.err.contains("locked"), "\(locked)")
            }
            #expect(faultObjects(target, "snapshots").isEmpty && faultObjects(target, "data").isEmpty)
            #expect(faultObjects(s.repo, "locks").isEmpty, "the source's lock was left behind")

            let viaOption = try await s.kura(["copy", "--to", target, "--to-password-file", otherPassword])
            #expect(viaOption.status == 0, "\(viaOption)")
            let viaEnvironment = try await s.kura(["copy", "--to", target, "--json"], extra: ["KURA_TO_PASSWORD_FILE": otherPassword])
            #expect(viaEnvironment.status == 0, "\(viaEnvironment)")
            #expect(number(try viaEnvironment.jsonObject(), "snapshotsSkipped") == 1)
            // The password never on argv: an option that would take it does not exist.
            #expect(try await s.kura(["copy", "--to", target, "--to-password", "x"]).status == 64)
        }
    }

    @Test("a target with another chunker secret: the copy works and warns that later backups into it will not deduplicate against the copied data")
    func differentChunkerSecretWarns() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])
            let target = s.path("offsite")
            let made = try await s.kura(["init", "-q"], repo: .path(target))
            try #require(made.status == 0, "\(made)")
            let r = try await s.kura(["copy", "--to", target])
            #expect(r.status == 0, "\(r)")
            #expect(r.err.contains("warning") && r.err.contains("chunker secret") && r.err.contains("will not deduplicate against the copied data"), "\(r)")
            #expect(try await s.kura(["check", "--read-data"], repo: .path(target)).status == 0)
            let same = s.path("same")
            try await initTarget(s, same)
            let quiet = try await s.kura(["copy", "--to", same])
            #expect(quiet.status == 0 && !quiet.err.contains("chunker"), "\(quiet)")
        }
    }

    @Test("kill -9 in the middle of copying a large snapshot, then again: the second run sends far less than the whole, and the target verifies and restores")
    func killedCopyResumes() async throws {
        try await withSandbox { s in
            // Small chunks and 1 MiB packs in the target: an index file every 4 packs, many during the copy.
            // Killed after 7 index files (28 of about 46 packs), the second run must send less than half.
            try await s.kuraOK(["init", "-q", "--chunk-min", "64", "--chunk-avg", "256", "--chunk-max", "1024"])
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            let size = 48_000_000
            try RawFS.write(Array((src + "/large.bin").utf8), randomBytes(size, seed: 11))
            try await s.backup([src])
            let target = s.path("offsite")
            try await initTarget(s, target, ["--pack-size", "1"])

            let child = try FaultChild.kura(s, ["copy", "--to", target])
            let sent = await child.kill9(when: { faultObjects(target, "index").count >= 7 }, timeout: 120)
            let exit = await child.wait()
            try #require(sent, "the copy ended before it could be killed: \(exit)")
            #expect(faultObjects(target, "snapshots").isEmpty, "a killed copy committed a snapshot")
            let packsBefore = faultObjects(target, "data").count
            #expect(packsBefore >= 28, "\(packsBefore) packs before the kill")

            let resumed = try await copy(s, to: target)
            #expect(number(resumed, "snapshotsCopied") == 1, "\(resumed)")
            let bytes = number(resumed, "bytesCopied")
            #expect(bytes > 0 && bytes < size / 2, "the second run copied \(bytes) of \(size) bytes")
            let check = try await s.kura(["check", "--read-data"], repo: .path(target))
            #expect(check.status == 0, "\(check)")
            let restored = s.path("restored")
            let r = try await s.kura(["restore", "latest", "--target", restored], repo: .path(target))
            try #require(r.status == 0, "\(r)")
            #expect(try RawFS.read(Array((restored + src + "/large.bin").utf8)) == randomBytes(size, seed: 11))
        }
    }

    @Test("a target that lost a pack: after check finds it and the damaged copy is forgotten, copying again re-sends the lost blobs instead of trusting the index")
    func targetThatLostAPackGetsItBack() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])
            let target = s.path("offsite")
            try await initTarget(s, target)
            try await copy(s, to: target)
            // Lose the largest pack of the target (data, not trees).
            let packs = faultObjects(target, "data").map { target + "/" + $0 }
            let largest = try #require(packs.max { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 < (try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0 })
            try FileManager.default.removeItem(atPath: largest)
            let check = try await s.kura(["check"], repo: .path(target))
            #expect(check.status == 1, "\(check)")
            let copies = snapshotIDs(try await snapshots(s, target))
            let forget = try await s.kura(["forget", String(try #require(copies.first).prefix(8))], repo: .path(target))
            try #require(forget.status == 0, "\(forget)")

            let again = try await s.kura(["copy", "--to", target, "--json"])
            try #require(again.status == 0, "\(again)")
            let report = try again.jsonObject()
            #expect(number(report, "snapshotsCopied") == 1 && number(report, "bytesCopied") > 2_000_000, "\(report)")
            #expect(again.err.contains("no longer holds"), "\(again)")
            let recheck = try await s.kura(["check", "--read-data"], repo: .path(target))
            #expect(recheck.status == 0, "\(recheck)")
        }
    }
}
