import Foundation
import KuraStore
import KuraTestSupport
import Testing

/// The offsite copy into S3 as the team runs it, against servers that enforce what matters:
/// - a key that may write and read but delete only lock objects, with moto enforcing the IAM policy
///   and Object Lock (authentication on; the proxy judges signatures with botocore and re-signs for
///   moto, whose own check rejects correctly signed listings — see s3_test_server.py);
/// - a copy killed with -9 midway, resumed against the same bucket; a target that lost a pack.
@Suite("kura copy into S3: write-only key, Object Lock, kill -9")
struct S3OffsiteTests {
    /// The policy of the backup host's key (docs/offsite.md): list the bucket, read and write under the
    /// repository's prefix, delete only its lock objects.
    static func writeOnlyPolicy(prefix: String) -> String {
        """
        {"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)"},
          {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)/\(prefix)/*"},
          {"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)/\(prefix)/locks/*"}
        ]}
        """
    }

    @Test("a key that may not delete (but locks) copies, copies again and checks; every uploaded object is locked in COMPLIANCE mode; neither that key nor the admin can delete a locked pack; forget with that key fails and loses nothing; a read-only key restores, and checks with --no-lock")
    func writeOnlyKeyAndObjectLock() async throws {
        let server = try S3TestServer(iam: true, objectLock: true)
        defer { server.stop() }
        try await withRepository { s in
            let prefix = "offsite/kura"
            let location = server.location(prefix: prefix)
            let admin = S3TestServer.environment
            let backupHost = try server.createUser("backup-host", policy: Self.writeOnlyPolicy(prefix: prefix))
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])
            // The target is created once by an administrator (with the key that may delete).
            let initTarget = try await s.kura(["init", "-q", "--copy-chunker-params-from", s.repo], repo: .path(location), extra: admin)
            try #require(initTarget.status == 0, "\(initTarget)")

            let started = Date()
            let first = try await s.kura(["copy", "--to", location, "--retention", "2d", "--retention-mode", "compliance", "--json"], extra: backupHost)
            try #require(first.status == 0, "the copy needs no delete outside locks/: \(first)")
            let report = try first.jsonObject()
            #expect((report["snapshotsCopied"] as? Int) == 1, "\(report)")
            #expect((report["retention"] as? [String: Any])?["mode"] as? String == "COMPLIANCE", "\(report)")

            // A new backup, copied with the same key: only its new data, locked too.
            try RawFS.write(Array((src + "/data/second.bin").utf8), randomBytes(600_000, seed: 5))
            try await s.backup([src])
            let second = try await s.kura(["copy", "--to", location, "--retention", "2d", "--retention-mode", "compliance", "--json"], extra: backupHost)
            try #require(second.status == 0, "\(second)")
            #expect((try second.jsonObject()["snapshotsCopied"] as? Int) == 1, "\(second)")
            let again = try await s.kura(["copy", "--to", location, "--json"], extra: backupHost)
            let againCopied = try again.jsonObject()["snapshotsCopied"] as? Int
            #expect(again.status == 0 && againCopied == 0, "\(again)")
            let check = try await s.kura(["check", "--read-data"], repo: .path(location), extra: backupHost)
            #expect(check.status == 0, "the write-only key is enough to check: \(check)")

            // What moto holds: every version the copies uploaded (locks aside) is locked for 2 days in
            // COMPLIANCE mode; nothing outside locks/ was overwritten or deleted; lock objects were removed.
            let versions = try server.versions(prefix: prefix + "/")
            let formatter = ISO8601DateFormatter()
            var locked = 0
            for v in versions where !v.key.hasPrefix(prefix + "/locks/") && !v.isDeleteMarker
                && ["data/", "index/", "snapshots/"].contains(where: { v.key.hasPrefix(prefix + "/" + $0) }) {
                #expect(v.lockMode == "COMPLIANCE", "\(v)")
                let until = try #require(v.lockUntil.flatMap { formatter.date(from: $0) }, "\(v)")
                #expect(until.timeIntervalSince(started) > 2 * 86400 - 5 && until.timeIntervalSinceNow < 2 * 86400 + 5, "\(v)")
                locked += 1
            }
            #expect(locked >= 6, "packs, index files and snapshots of two copies: \(locked)")
            let outside = versions.filter { !$0.key.hasPrefix(prefix + "/locks/") }
            #expect(Set(outside.map(\.key)).count == outside.count, "no object outside locks/ has a second version or a delete marker")
            let lockVersions = versions.filter { $0.key.hasPrefix(prefix + "/locks/") }
            #expect(lockVersions.contains { $0.isDeleteMarker } && lockVersions.allSatisfy { $0.lockMode == nil },
                    "lock objects carry no retention and were deleted: \(lockVersions)")

            // The backup host's key cannot delete a pack (moto enforces the policy) ...
            let pack = try #require(versions.first { $0.key.hasPrefix(prefix + "/data/") && !$0.isDeleteMarker })
            let store = try StoreFactory.open(location, options: StoreOptions(s3: S3Options(environment: backupHost)))
            let relative = String(pack.key.dropFirst(prefix.count + 1))
            do {
                try await store.delete(relative)
                Issue.record("the write-only key deleted \(relative)")
            } catch let e as ObjectStoreError {
                #expect(e.code == .permissionDenied && e.message.contains("AccessDenied"), "\(e)")
            }
            // ... nor forget snapshots: it fails, and nothing is lost.
            let forget = try await s.kura(["forget", "--keep-last", "1"], repo: .path(location), extra: backupHost)
            #expect(forget.status == 1 && forget.err.contains("AccessDenied") && forget.err.contains("policy"), "\(forget)")
            let snapshots = try await s.kura(["snapshots", "--json"], repo: .path(location), extra: admin)
            #expect(try snapshots.jsonArray().count == 2, "\(snapshots)")
            // ... and in COMPLIANCE mode not even the administrator can delete the locked version.
            let denied = try server.deleteVersion(key: pack.key, versionID: pack.versionID)
            #expect(denied.status == 403 && denied.code == "AccessDenied", "\(denied)")
            #expect(try server.versions(prefix: pack.key).contains { $0.versionID == pack.versionID }, "the locked version is still there")
            let recheck = try await s.kura(["check", "--read-data"], repo: .path(location), extra: admin)
            #expect(recheck.status == 0, "\(recheck)")

            // A read-only key (docs/disaster-recovery.md): lists, restores and checks without a lock; a
            // check that wants its lock object is refused by the policy.
            let readOnly = try server.createUser("restore-only", policy: """
                {"Version": "2012-10-17", "Statement": [
                  {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)"},
                  {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)/\(prefix)/*"}
                ]}
                """)
            let restored = s.path("restored")
            let restore = try await s.kura(["restore", "latest", "--target", restored, "-q"], repo: .path(location), extra: readOnly)
            #expect(restore.status == 0, "\(restore)")
            #expect(treeDifferences(expected: try scanTree(src), actual: try scanTree(restored + src)).isEmpty)
            let lockedCheck = try await s.kura(["check"], repo: .path(location), extra: readOnly)
            #expect(lockedCheck.status == 1 && lockedCheck.err.contains("AccessDenied"), "\(lockedCheck)")
            let unlockedCheck = try await s.kura(["check", "--no-lock"], repo: .path(location), extra: readOnly)
            #expect(unlockedCheck.status == 0, "\(unlockedCheck)")
            #expect(try server.stats().injected["signature", default: 0] == 0)
        }
    }

    @Test("--retention into a bucket without Object Lock: S3 refuses the first upload, kura says the bucket needs Object Lock, and no snapshot is committed")
    func retentionWithoutObjectLock() async throws {
        let server = try S3TestServer.shared
        try await withRepository { s in
            let location = server.location(prefix: S3TestServer.uniquePrefix("nolock") + "/kura")
            let env = S3TestServer.environment
            try await s.backup([try makeSampleTree(at: s.path("src"))])
            let initTarget = try await s.kura(["init", "-q", "--copy-chunker-params-from", s.repo], repo: .path(location), extra: env)
            try #require(initTarget.status == 0, "\(initTarget)")
            let copy = try await s.kura(["copy", "--to", location, "--retention", "1d"], extra: env)
            #expect(copy.status == 1 && copy.err.contains("InvalidRequest") && copy.err.contains("created with Object Lock enabled"), "\(copy)")
            let snapshots = try await s.kura(["snapshots", "--json"], repo: .path(location), extra: env)
            #expect(try snapshots.jsonArray().isEmpty, "\(snapshots)")
        }
    }

    @Test("--retention is refused for a target that is not in S3, and for a bad duration or mode (exit 64, nothing copied)")
    func retentionUsage() async throws {
        try await withRepository { s in
            let target = s.path("offsite")
            let notS3 = try await s.kura(["copy", "--to", target, "--retention", "30d"])
            #expect(notS3.status == 64 && notS3.err.contains("only for an S3 target"), "\(notS3)")
            let badDuration = try await s.kura(["copy", "--to", "s3:http://127.0.0.1:1/bucket/x", "--retention", "soon"])
            #expect(badDuration.status == 64 && badDuration.err.contains("not a duration"), "\(badDuration)")
            let tooLong = try await s.kura(["copy", "--to", "s3:http://127.0.0.1:1/bucket/x", "--retention", "40000d"])
            #expect(tooLong.status == 64 && tooLong.err.contains("100 years"), "\(tooLong)")
            let badMode = try await s.kura(["copy", "--to", "s3:http://127.0.0.1:1/bucket/x", "--retention", "30d", "--retention-mode", "strict"])
            #expect(badMode.status == 64, "\(badMode)")
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    @Test("kill -9 of a copy into S3 midway, then again: the second run uploads only what had not arrived; a target pack lost later is noticed by the next copy (one LIST) and sent again")
    func killedCopyToS3ResumesAndLostPackIsResent() async throws {
        let server = try S3TestServer()
        defer { server.stop() }
        try await withSandbox { s in
            let env = S3TestServer.environment
            try await s.kuraOK(["init", "-q", "--chunk-min", "64", "--chunk-avg", "256", "--chunk-max", "1024"])
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            let size = 16_000_000
            try RawFS.write(Array((src + "/large.bin").utf8), randomBytes(size, seed: 21))
            try await s.backup([src])
            let location = server.location(prefix: "resume/kura")
            let initTarget = try await s.kura(["init", "-q", "--copy-chunker-params-from", s.repo, "--pack-size", "1"], repo: .path(location), extra: env)
            try #require(initTarget.status == 0, "\(initTarget)")

            // An index file is written every 4 packs of 1 MiB: kill after the second one. Every request
            // waits 40 ms at the server meanwhile, so that the copy cannot finish between two looks at
            // the counts on a loaded machine.
            try server.resetStats()
            try server.setFaults(delayMilliseconds: 40)
            let child = try FaultChild.kura(s, ["copy", "--to", location], extra: env)
            let sent = await child.kill9(when: { ((try? server.stats().counts["PUT index"]) ?? 0) >= 2 }, timeout: 120)
            let exit = await child.wait()
            try server.setFaults()
            try #require(sent, "the copy ended before it could be killed: \(child.result(exit))")
            let killed = try server.stats().counts
            #expect(killed["PUT snapshots", default: 0] == 0, "a killed copy committed a snapshot: \(killed)")
            let packsBefore = killed["PUT data", default: 0]

            try server.resetStats()
            let resumed = try await s.kura(["copy", "--to", location, "--json"], extra: env)
            try #require(resumed.status == 0, "\(resumed)")
            let report = try resumed.jsonObject()
            let bytes = (report["bytesCopied"] as? Int) ?? -1
            let counts = try server.stats().counts
            let packsAfter = counts["PUT data", default: 0]
            #expect(bytes > 0 && bytes < size * 3 / 4, "the second run copied \(bytes) of \(size) bytes")
            #expect(packsBefore >= 8 && packsAfter < 15, "packs uploaded before the kill: \(packsBefore), after: \(packsAfter)")
            #expect(counts["LIST data", default: 0] == 1, "the copy lists the target's packs once: \(counts)")
            print("kill -9 of a copy into S3 (16 MB, 1 MiB packs): \(packsBefore) packs before the kill, \(packsAfter) after; second run sent \(bytes) bytes; its requests: \(counts)")
            let check = try await s.kura(["check", "--read-data"], repo: .path(location), extra: env)
            #expect(check.status == 0, "\(check)")

            // The target loses a pack behind kura's back (no `check` ran, no marker): the next copy
            // must not trust its index for it.
            // First gc removes the killed run's unindexed packs, so the pack lost is one the index vouches for.
            let gc = try await s.kura(["gc"], repo: .path(location), extra: env)
            try #require(gc.status == 0, "\(gc)")
            let store = try StoreFactory.open(location, options: StoreOptions(s3: S3Options(environment: env)))
            let packs = try await store.list(prefix: "data/")
            let lost = try #require(packs.max { $0.size < $1.size })
            try await store.delete(lost.key)
            let copies = try await s.kura(["snapshots", "--json"], repo: .path(location), extra: env).jsonArray()
            let forget = try await s.kura(["forget", String(try #require(snapshotIDs(copies).first).prefix(8))], repo: .path(location), extra: env)
            try #require(forget.status == 0, "\(forget)")
            let again = try await s.kura(["copy", "--to", location, "--json"], extra: env)
            try #require(again.status == 0, "\(again)")
            #expect(again.err.contains("no longer holds"), "\(again)")
            let resent = try again.jsonObject()["bytesCopied"] as? Int ?? 0
            #expect(resent > 200_000, "\(again)")
            let recheck = try await s.kura(["check", "--read-data"], repo: .path(location), extra: env)
            #expect(recheck.status == 0, "\(recheck)")
            let restored = s.path("restored")
            let restore = try await s.kura(["restore", "latest", "--target", restored, "-q"], repo: .path(location), extra: env)
            try #require(restore.status == 0, "\(restore)")
            #expect(try RawFS.read(Array((restored + src + "/large.bin").utf8)) == randomBytes(size, seed: 21))

            // The nightly case: nothing new to copy. What it costs in requests (the index comes from the cache).
            try server.resetStats()
            let idle = try await s.kura(["copy", "--to", location, "--json"], extra: env)
            let idleCounts = try server.stats().counts
            let idleCopied = try idle.jsonObject()["snapshotsCopied"] as? Int
            #expect(idle.status == 0 && idleCopied == 0, "\(idle)")
            #expect(idleCounts["PUT data", default: 0] == 0 && idleCounts["LIST data", default: 0] == 1, "\(idleCounts)")
            print("a copy into S3 with nothing to copy: \(idleCounts)")
        }
    }
}
