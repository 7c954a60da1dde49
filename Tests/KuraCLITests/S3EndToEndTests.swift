import Foundation
import KuraTestSupport
import Testing

/// The real binary against a real S3 server on loopback (moto behind the signature-checking proxy):
/// every command of a repository's life, with credentials in the environment only.
@Suite("kura against an S3 repository (loopback moto, signatures checked)")
struct S3EndToEndTests {
    @Test("init, backup, snapshots, restore (byte for byte), check --read-data, forget, gc against s3:http://…")
    func lifecycle() async throws {
        let server = try S3TestServer()   // its own, so that the request counts are this test's alone
        defer { server.stop() }
        try await withSandbox { s in
            let location = server.location(prefix: S3TestServer.uniquePrefix("cli") + "/repo")
            let env = S3TestServer.environment
            func kura(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
                let r = try await s.kura(args, repo: .path(location), extra: env)
                try #require(r.status == 0, "kura \(args.joined(separator: " ")): \(r)", sourceLocation: sourceLocation)
                return r
            }
            func requests() throws -> String {
                let counts = try server.stats().counts
                return ["PUT", "GET", "LIST", "HEAD", "DELETE"].map { "\($0) \(counts[$0] ?? 0)" }.joined(separator: ", ")
            }

            // Not created yet: the same "no repository" as a missing folder.
            let missing = try await s.kura(["snapshots"], repo: .path(location), extra: env)
            #expect(missing.status == 10, "\(missing)")

            let src = try makeSampleTree(at: s.path("src"))
            let before = try scanTree(src)
            try await kura(["init", "-q"])
            try server.resetStats()
            try await kura(["backup", "-q", src])
            let backupRequests = try requests()
            try server.resetStats()
            try await kura(["backup", "-q", src])
            let secondBackupRequests = try requests()
            let snapshots = try await kura(["snapshots", "--json"]).jsonArray()
            #expect(snapshots.count == 2)

            let target = s.path("restored")
            try server.resetStats()
            try await kura(["restore", "latest", "--target", target, "-q"])
            let restoreRequests = try requests()
            let problems = treeDifferences(expected: before, actual: try scanTree(target + src))
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: target + src + "/data/big.bin"))
                    == Data(contentsOf: URL(fileURLWithPath: src + "/data/big.bin")))

            try server.resetStats()
            try await kura(["check", "--read-data"])
            let checkRequests = try requests()

            // A changed file, a third snapshot; keep one; gc deletes what only the others used.
            try writeText(src + "/docs/readme.txt", "changed after the first backups\n")
            try RawFS.write(Array((src + "/data/big.bin").utf8), randomBytes(1_500_000, seed: 77))
            try await kura(["backup", "-q", src])
            try await kura(["forget", "--keep-last", "1"])
            try server.resetStats()
            try await kura(["gc"])
            let gcRequests = try requests()
            #expect(try server.stats().counts["DELETE", default: 0] > 0, "gc deleted packs")
            try await kura(["check", "--read-data"])
            #expect(try await kura(["snapshots", "--json"]).jsonArray().count == 1)
            let again = s.path("restored-again")
            try await kura(["restore", "latest", "--target", again, "-q"])
            #expect(try String(contentsOfFile: again + src + "/docs/readme.txt", encoding: .utf8) == "changed after the first backups\n")
            #expect(try Data(contentsOf: URL(fileURLWithPath: again + src + "/data/big.bin"))
                    == Data(contentsOf: URL(fileURLWithPath: src + "/data/big.bin")))

            #expect(try server.stats().injected["signature", default: 0] == 0, "every request was correctly signed")
            print("""
            S3 request counts (sample tree, \(before.count) entries, ~2.5 MB):
              first backup:   \(backupRequests)
              no-change backup: \(secondBackupRequests)
              restore:        \(restoreRequests)
              check --read-data: \(checkRequests)
              gc:             \(gcRequests)
            """)
        }
    }

    @Test("a server that fails one request in five (503 SlowDown) and resets one in seven: backup, check --read-data and restore still succeed")
    func faultyServer() async throws {
        let server = try S3TestServer()
        defer { server.stop() }
        try await withSandbox { s in
            let location = server.location(prefix: "faulty/repo")
            let env = S3TestServer.environment
            let src = try makeSampleTree(at: s.path("src"))
            let before = try scanTree(src)
            try server.setFaults(failEvery: 5, resetEvery: 7)
            for args in [["init", "-q"], ["backup", "-q", src], ["check", "--read-data"], ["restore", "latest", "--target", s.path("out"), "-q"]] {
                let r = try await s.kura(args, repo: .path(location), extra: env)
                try #require(r.status == 0, "kura \(args.joined(separator: " ")) under faults: \(r)")
                if args[0] == "backup" { #expect(r.err.contains("retrying in"), "retries are reported: \(r)") }
            }
            let injected = try server.stats().injected
            #expect(injected["slowdown", default: 0] > 5, "\(injected)")
            #expect(treeDifferences(expected: before, actual: try scanTree(s.path("out") + src)).isEmpty)
        }
    }

    @Test("the offsite step: a local repository copied to S3 (kura copy --to s3:…), then restored from S3 byte for byte; a second copy sends nothing")
    func copyOffsite() async throws {
        let server = try S3TestServer.shared
        try await withRepository { s in
            let offsite = server.location(prefix: S3TestServer.uniquePrefix("offsite") + "/repo")
            let env = S3TestServer.environment
            let src = try makeSampleTree(at: s.path("src"))
            let before = try scanTree(src)
            try await s.backup([src])
            let initTarget = try await s.kura(["init", "-q", "--copy-chunker-params-from", s.repo], repo: .path(offsite), extra: env)
            try #require(initTarget.status == 0, "\(initTarget)")
            let copy = try await s.kura(["copy", "--to", offsite, "--json"], extra: env)
            try #require(copy.status == 0, "\(copy)")
            let again = try await s.kura(["copy", "--to", offsite, "--json"], extra: env)
            let second = try again.jsonObject()
            #expect(again.status == 0 && (second["snapshotsCopied"] as? Int) == 0 && (second["bytesCopied"] as? Int) == 0, "\(again)")
            let check = try await s.kura(["check", "--read-data"], repo: .path(offsite), extra: env)
            #expect(check.status == 0, "\(check)")
            let restore = try await s.kura(["restore", "latest", "--target", s.path("out"), "-q"], repo: .path(offsite), extra: env)
            try #require(restore.status == 0, "\(restore)")
            #expect(treeDifferences(expected: before, actual: try scanTree(s.path("out") + src)).isEmpty)
        }
    }

    @Test("a wrong secret key: a clear permission error naming the signature check, exit status of permissionDenied")
    func wrongSecret() async throws {
        let server = try S3TestServer.shared
        try await withSandbox { s in
            let location = server.location(prefix: S3TestServer.uniquePrefix("cli-wrong"))
            var env = S3TestServer.environment
            env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret"
            let r = try await s.kura(["init", "-q"], repo: .path(location), extra: env)
            #expect(r.status != 0, "\(r)")
            #expect(r.err.contains("SignatureDoesNotMatch"), "\(r)")
            #expect(r.err.contains("secret key is wrong"), "\(r)")
            #expect(!r.err.contains("wrong-secret"), "the secret never shows: \(r)")
        }
    }
}
