import Foundation
import KuraTestSupport
import Testing

/// What the everyday commands cost against S3, in requests (LISTs and GETs are billed): measured on the
/// loopback server and held to the figures docs/scaling.md gives.
@Suite("S3 request counts of everyday commands")
struct S3RequestCountTests {
    /// A sandbox and a repository location on a loopback S3 server of the test's own, so that the
    /// server's request counts are this test's alone.
    private func withOwnServer(_ prefix: String, _ body: (S3TestServer, Sandbox, String) async throws -> Void) async throws {
        let server = try S3TestServer()
        defer { server.stop() }
        try await withSandbox { s in try await body(server, s, server.location(prefix: S3TestServer.uniquePrefix(prefix) + "/repo")) }
    }

    @Test("a no-change backup, snapshots, ls and cat of one file with a warm cache make a small, fixed number of requests")
    func everydayCommands() async throws {
        try await withOwnServer("counts") { server, s, location in
            let env = S3TestServer.environment
            func kura(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
                let r = try await s.kura(args, repo: .path(location), extra: env)
                try #require(r.status == 0, "kura \(args.joined(separator: " ")): \(r)", sourceLocation: sourceLocation)
                return r
            }
            func counted(_ args: [String]) async throws -> [String: Int] {
                try server.resetStats()
                try await kura(args)
                return try server.stats().counts
            }
            let src = try makeSampleTree(at: s.path("src"))
            try await kura(["init", "-q"])
            try await kura(["backup", "-q", src])
            try await kura(["backup", "-q", src])    // warms the cache
            let backup = try await counted(["backup", "-q", src])
            let snapshots = try await counted(["snapshots", "--json"])
            let ls = try await counted(["ls", "latest"])
            let cat = try await counted(["cat", "latest:\(src)/docs/readme.txt"])
            print("S3 requests: no-change backup \(backup), snapshots \(snapshots), ls \(ls), cat \(cat)")
            // The figures docs/scaling.md gives (per command; LISTs: keys, snapshots, index, and the lock's two).
            func n(_ c: [String: Int], _ k: String) -> Int { c[k] ?? 0 }
            #expect(n(backup, "LIST") <= 6 && n(backup, "GET") - n(backup, "LIST") <= 8 && n(backup, "HEAD") <= 2 && n(backup, "PUT") <= 4, "\(backup)")
            #expect(n(backup, "GET snapshots") <= 1, "only the newest snapshot (the parent) is new to the cache: \(backup)")
            #expect(n(snapshots, "LIST") == 2 && n(snapshots, "GET snapshots") <= 1 && n(snapshots, "GET") - n(snapshots, "LIST") <= 4, "\(snapshots)")
            #expect(n(cat, "LIST") == 3 && n(cat, "GET") - n(cat, "LIST") <= 5 && n(cat, "GET data") <= 1 && n(cat, "PUT") == 0, "\(cat)")
            #expect(n(ls, "LIST") == 3 && n(ls, "GET") - n(ls, "LIST") <= 6, "\(ls)")

            // Without the cache (--no-cache, as on a bare host) the same cat reads every snapshot and tree again.
            try server.resetStats()
            let cold = try await s.kura(["--no-cache", "cat", "latest:\(src)/docs/readme.txt"], repo: .path(location), extra: env)
            #expect(cold.status == 0, "\(cold)")
            let coldCounts = try server.stats().counts
            #expect(n(coldCounts, "GET snapshots") == 3 && n(coldCounts, "GET data") > n(cat, "GET data"), "\(coldCounts) \(cold)")
        }
    }

    @Test("restore and dump read a folder of small files with a few ranged GETs per pack, not one per file, and get every byte back")
    func restoreOfSmallFiles() async throws {
        try await withOwnServer("restore-counts") { server, s, location in
            let env = S3TestServer.environment
            let src = s.path("src")
            var files: [String: [UInt8]] = [:]
            for i in 0..<300 { files[(i % 3 == 0 ? "/json" : "/thumbs") + "/f\(i)"] = randomBytes(300 + (i * 7_717) % 40_000, seed: UInt64(i)) }
            for (path, data) in files { try writeBytes(src + path, data) }
            for args in [["init", "-q"], ["backup", "-q", src]] {
                let r = try await s.kura(args, repo: .path(location), extra: env)
                try #require(r.status == 0, "\(r)")
            }
            try server.resetStats()
            let target = s.path("restored")
            let r = try await s.kura(["restore", "-q", "latest:\(src)", "--target", target], repo: .path(location), extra: env)
            #expect(r.status == 0, "\(r)")
            let counts = try server.stats().counts
            print("S3 requests of a restore of 300 small files: \(counts)")
            for (path, data) in files { #expect(FileManager.default.contents(atPath: target + path) == Data(data), "\(path)") }
            // 300 files (6.3 MB) in one or two packs: a few GETs of pack regions, not 300.
            #expect((1...15).contains(counts["GET data"] ?? 0), "\(counts)")

            // kura dump reads them the same way: the archive extracts to the same bytes.
            try server.resetStats()
            let out = s.path("extracted")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let dumped = try await s.pipe(kura: ["dump", "latest:\(src)"], into: "tar", ["-xf", "-", "-C", out], repo: location, extra: env)
            #expect(dumped.kura.status == 0 && dumped.consumer.status == 0, "\(dumped)")
            let dumpCounts = try server.stats().counts
            print("S3 requests of a dump of 300 small files: \(dumpCounts)")
            for (path, data) in files { #expect(FileManager.default.contents(atPath: out + "/src" + path) == Data(data), "\(path)") }
            #expect((1...15).contains(dumpCounts["GET data"] ?? 0), "\(dumpCounts)")
        }
    }

    @Test("two hosts back up into one bucket at the same time: both snapshots are saved, check --read-data passes, both restore")
    func twoHostsAtOnce() async throws {
        let server = try S3TestServer.shared
        try await withSandbox { s in
            let location = server.location(prefix: S3TestServer.uniquePrefix("hosts") + "/repo")
            let env = S3TestServer.environment
            let r = try await s.kura(["init", "-q"], repo: .path(location), extra: env)
            try #require(r.status == 0, "\(r)")
            var trees: [String: String] = [:]
            for host in ["web1", "web2"] {
                let src = s.path("src-\(host)")
                try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
                for i in 0..<6 { try Data(randomBytes(400_000, seed: UInt64(i + (host == "web1" ? 0 : 100)))).write(to: URL(fileURLWithPath: "\(src)/f\(i).bin")) }
                try Data(randomBytes(300_000, seed: 999)).write(to: URL(fileURLWithPath: "\(src)/shared.bin"))   // the same on both: stored once
                trees[host] = src
            }
            // Both at once, each with its own --host, from two processes.
            async let a = s.kura(["backup", "-q", "--json", "--host", "web1", trees["web1"]!], repo: .path(location), extra: env)
            async let b = s.kura(["backup", "-q", "--json", "--host", "web2", trees["web2"]!], repo: .path(location), extra: env)
            let (ra, rb) = try await (a, b)
            #expect(ra.status == 0 && rb.status == 0, "\(ra)\n\(rb)")
            let list = try await s.kura(["snapshots", "--json"], repo: .path(location), extra: env)
            let hosts = try list.jsonArray().compactMap { ($0["snapshot"] as? [String: Any])?["host"] as? String }.sorted()
            #expect(hosts == ["web1", "web2"], "\(list.out.prefix(600))")
            let check = try await s.kura(["check", "--read-data"], repo: .path(location), extra: env)
            #expect(check.status == 0, "\(check)")
            let ids = ["web1": try ra.jsonObject()["snapshot"] as? String ?? "", "web2": try rb.jsonObject()["snapshot"] as? String ?? ""]
            for (host, src) in trees {
                let target = s.path("restore-\(host)")
                let restore = try await s.kura(["restore", "-q", "\(ids[host]!):\(src)", "--target", target], repo: .path(location), extra: env)
                #expect(restore.status == 0, "\(restore)")
                for name in ["f0.bin", "f5.bin", "shared.bin"] {
                    #expect(FileManager.default.contents(atPath: "\(target)/\(name)") == FileManager.default.contents(atPath: "\(src)/\(name)"), "\(host) \(name)")
                }
            }
        }
    }
}
