import Foundation
import KuraPostgres
import KuraRepository
import KuraStore
import Testing
import KuraTestSupport

/// A scratch PostgreSQL server of its own that archives its WAL with the built kura binary
/// (`archive_command = 'kura wal-push --repo … --password-file … %p'`) into a repository owned by
/// the server's user. Every kura command of these tests runs as that user, as archive_command does.
final class ArchivingServer: @unchecked Sendable {
    let root: String
    let port: Int
    let archiveTimeout: Int
    var data: String { root + "/data" }
    var socket: String { root + "/sock" }
    var repo: String { root + "/repo" }
    var passwordFile: String { root + "/password" }
    let password = "pw-\(UUID().uuidString)"
    var pgctl: String { get throws { try PG.bindir() + "/pg_ctl" } }

    init(archiveTimeout: Int, extraArchiveArguments: String = "") async throws {
        self.archiveTimeout = archiveTimeout
        root = "/tmp/kura-wal-\(UUID().uuidString.prefix(8))"
        port = Int.random(in: 20000...60000)
        try FileManager.default.createDirectory(atPath: root + "/sock", withIntermediateDirectories: true)
        chmod(root, 0o755)
        try password.write(toFile: passwordFile, atomically: false, encoding: .utf8)
        chmod(passwordFile, 0o600)
        // The repository: fast scrypt (initialised in-process), then handed to the server's user.
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        _ = try await Repository.initialize(store: try StoreFactory.open(repo, create: true), password: Array(password.utf8), options: options)
        if geteuid() == 0 { _ = try await runTool("/bin/chown", ["-R", "postgres:postgres", root]) }
        let initdb = try await asServerOwner(try PG.bindir() + "/initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "--no-locale", "-E", "UTF8"])
        try #require(initdb.status == 0, "\(initdb)")
        let conf = """
            listen_addresses = ''
            port = \(port)
            unix_socket_directories = '\(socket)'
            fsync = off
            wal_level = replica
            max_wal_senders = 4
            archive_mode = on
            archive_command = '\(KuraBinary.path) wal-push -q --repo \(repo) --password-file \(passwordFile) --no-cache \(extraArchiveArguments) %p'
            archive_timeout = \(archiveTimeout)
            log_min_messages = warning

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: data + "/postgresql.conf"))
        handle.seekToEndOfFile(); handle.write(Data(conf.utf8)); try handle.close()
        try await start()
    }

    /// Data directories started by the test (all stopped by ``remove()``).
    private(set) var started: Set<String> = []

    func start(_ directory: String? = nil) async throws {
        let d = directory ?? data
        started.insert(d)
        let r = try await asServerOwner(try pgctl, ["-D", d, "-l", d + ".log", "-w", "-t", "120", "-o", "-c port=\(port) -c unix_socket_directories='\(socket)' -c listen_addresses=''", "start"])
        try #require(r.status == 0, "\(r)\n\((try? String(contentsOfFile: d + ".log", encoding: .utf8)) ?? "")")
    }

    func stop(_ directory: String? = nil, mode: String = "fast") async {
        _ = try? await asServerOwner(try pgctl, ["-D", directory ?? data, "-m", mode, "-w", "-t", "60", "stop"])
    }

    var dsn: PostgresDSN { PostgresDSN(settings: ["host": socket, "port": "\(port)", "user": "postgres", "dbname": "postgres"]) }

    func sql(_ text: String) throws -> [[String?]] {
        let c = try PostgresConnection(dsn)
        defer { c.close() }
        return try c.query(text)
    }

    func value(_ text: String) throws -> String? { try sql(text).first?.first ?? nil }

    /// Runs kura as the server's user against the repository, the password from the file.
    func kura(_ arguments: [String]) async throws -> RunResult {
        let env = ["PATH": "/usr/bin:/bin", "KURA_CACHE_DIR": root + "/cache", "HOME": root]
        let args = arguments + ["--repo", repo, "--password-file", passwordFile]
        if geteuid() == 0 {
            return try await runTool("/usr/sbin/runuser", ["-u", "postgres", "--", KuraBinary.path] + args, environment: env)
        }
        return try await runTool(KuraBinary.path, args, environment: env)
    }

    @discardableResult
    func kuraOK(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
        let r = try await kura(arguments)
        try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        return r
    }

    /// Forces a segment switch and waits until the archiver has pushed it (or `timeout` passes).
    func switchAndWaitArchived(timeout: Double = 30) async throws -> String {
        let segment = try #require(try value("SELECT pg_walfile_name(pg_switch_wal())"))
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let last = try value("SELECT last_archived_wal FROM pg_stat_archiver"), last >= segment { return segment }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("segment \(segment) was not archived within \(timeout) s: \(try sql("SELECT * FROM pg_stat_archiver"))")
        return segment
    }

    func remove() async {
        for d in started { await stop(d, mode: "immediate") }
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// Runs `body` with a new archiving server; stops every server it started and removes its folder
/// afterwards, also when `body` throws.
func withArchivingServer<T>(archiveTimeout: Int, _ body: (ArchivingServer) async throws -> T) async throws -> T {
    let server = try await ArchivingServer(archiveTimeout: archiveTimeout)
    do {
        let result = try await body(server)
        await server.remove()
        return result
    } catch {
        await server.remove()
        throw error
    }
}

extension PostgresTests {
    /// Base backup; a write load with timestamps; T recorded; more writes; pg_switch_wal(); restore to T
    /// into a scratch folder, start the server: the rows are exactly those committed by T.
    @Test func pointInTimeRestoreToTime() async throws {
        try await withArchivingServer(archiveTimeout: 30) { server in
            _ = try server.sql("CREATE TABLE t (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), v text)")
            _ = try server.sql("INSERT INTO t (id, v) SELECT i, md5(i::text) FROM generate_series(1, 1000) i")
            let b = try await server.kuraOK(["backup", "--json", "--postgres-physical", server.dsn.with(dbname: "postgres").childConninfo]).jsonObject()
            #expect((b["paths"] as? [String])?.contains("/postgres-physical/base.tar") == true)

            // Writes before T, each its own transaction.
            for i in 1001...1200 { _ = try server.sql("INSERT INTO t (id, v) VALUES (\(i), 'before')") }
            try await Task.sleep(for: .milliseconds(1100))
            let t = try #require(try server.value("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') || '+00:00'"))
            let atT = try server.sql("SELECT count(*)::text, md5(string_agg(id::text || v, ',' ORDER BY id)) FROM t")[0]
            try await Task.sleep(for: .milliseconds(1100))
            for i in 1201...1400 { _ = try server.sql("INSERT INTO t (id, v) VALUES (\(i), 'after')") }
            _ = try server.sql("UPDATE t SET v = 'changed after T' WHERE id <= 10")
            _ = try await server.switchAndWaitArchived()

            let status = try await server.kura(["wal-status", "--json"])
            let st = try status.jsonObject()
            #expect(status.status == 0 && st["continuous"] as? Bool == true && (st["gaps"] as? [Any])?.isEmpty == true, "\(status)")

            let target = server.root + "/restored"
            let r = try await server.kuraOK(["restore-physical", "latest", "--target", target, "--to-time", t, "--action", "promote", "--json"]).jsonObject()
            let settings = (r["result"] as? [String: Any])?["settings"] as? [String] ?? []
            #expect(settings.contains { $0.hasPrefix("restore_command = '") && $0.contains("wal-fetch %f %p") && $0.contains("--password-file") && !$0.contains(server.password) }, "\(settings)")
            #expect(FileManager.default.fileExists(atPath: target + "/recovery.signal"))
            await server.stop()
            try await server.start(target)
            // Wait for the promotion at the target.
            var inRecovery = "true"
            for _ in 0..<300 where inRecovery == "true" {
                inRecovery = (try? server.value("SELECT pg_is_in_recovery()::text")) ?? "true"
                if inRecovery == "true" { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(inRecovery == "false")
            let restored = try server.sql("SELECT count(*)::text, md5(string_agg(id::text || v, ',' ORDER BY id)) FROM t")[0]
            #expect(restored == atT, "restored \(restored), expected \(atT) (T = \(t))")
            #expect(try server.value("SELECT count(*)::text FROM t WHERE v = 'after' OR v = 'changed after T'") == "0")
            await server.stop(target)
        }
    }

    /// Measured RPO: under a steady insert load, the server stops abruptly (`-m immediate`) and its data
    /// folder is deleted; restore to latest (with --verify); the newest recovered commit is at most
    /// archive_timeout (+ a margin for the push) older than the newest commit the client saw.
    /// KURA_WAL_RPO_TIMEOUT=60 measures the figure in docs/benchmarks.md (takes ~75 s more).
    @Test func measuredRecoveryPointAfterCrash() async throws {
        let timeout = Int(ProcessInfo.processInfo.environment["KURA_WAL_RPO_TIMEOUT"] ?? "") ?? 6
        try await withArchivingServer(archiveTimeout: timeout) { server in
            _ = try server.sql("CREATE TABLE load (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())")
            try await server.kuraOK(["backup", "-q", "--postgres-physical", server.dsn.childConninfo])
            _ = try await server.switchAndWaitArchived()
            // Steady load, 10 commits a second, ending (by default) one second before the second forced switch:
            // the worst moment to crash, when almost a whole archive_timeout of commits is not archived yet.
            let c = try PostgresConnection(server.dsn)
            var lastCommit = ""
            let loadSeconds = Double(ProcessInfo.processInfo.environment["KURA_WAL_RPO_LOAD"] ?? "") ?? Double(timeout) * 2 - 1
            let end = Date().addingTimeInterval(loadSeconds)
            while Date() < end {
                lastCommit = try c.value("INSERT INTO load DEFAULT VALUES RETURNING extract(epoch FROM at)::text") ?? lastCommit
                try await Task.sleep(for: .milliseconds(100))
            }
            c.close()
            await server.stop(mode: "immediate")
            try FileManager.default.removeItem(atPath: server.data)

            let target = server.root + "/restored"
            let r = try await server.kura(["restore-physical", "latest", "--target", target, "--to-latest", "--verify", "--json"])
            let out = try r.jsonObject()
            let verify = try #require(out["verify"] as? [String: Any], "\(r)")
            #expect(r.status == 0 && verify["reachedTarget"] as? Bool == true && verify["state"] as? String == "promoted", "\(r)")
            #expect((verify["tables"] as? [String: Any])?["postgres.public.load"] != nil, "\(verify)")
            try await server.start(target)
            let newest = try #require(try server.value("SELECT extract(epoch FROM max(at))::text FROM load"))
            await server.stop(target)
            let rpo = (Double(lastCommit) ?? 0) - (Double(newest) ?? 0)
            print("wal archiving: archive_timeout \(timeout) s, crash after \(loadSeconds) s of load, measured RPO \(String(format: "%.1f", rpo)) s (newest commit seen by the client vs newest recovered)")
            // The margin covers the forced switch's timing and the push under load (2 shared cores in CI).
            #expect(rpo >= 0 && rpo <= Double(timeout) + 5, "RPO \(rpo) s with archive_timeout \(timeout) s")
        }
    }

    /// wal-push into an unwritable repository fails; PostgreSQL keeps the WAL and retries; once the
    /// repository is writable again every segment arrives (no gap).
    @Test func unwritableRepositoryFailsAndPostgresRetries() async throws {
        try #require(geteuid() == 0, "needs root: the archiver runs as postgres, for whom a mode takes effect")
        try await withArchivingServer(archiveTimeout: 300) { server in
            try await server.kuraOK(["backup", "-q", "--postgres-physical", server.dsn.childConninfo])
            let first = try await server.switchAndWaitArchived()
            chmod(server.repo + "/wal", 0o500)
            _ = try server.sql("CREATE TABLE x AS SELECT i FROM generate_series(1, 1000) i")
            let blocked = try #require(try server.value("SELECT pg_walfile_name(pg_switch_wal())"))
            var failed = 0
            for _ in 0..<100 where failed == 0 {
                failed = Int(try server.value("SELECT failed_count FROM pg_stat_archiver") ?? "0") ?? 0
                if failed == 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(failed > 0)
            let lastArchived = try server.value("SELECT last_archived_wal FROM pg_stat_archiver") ?? ""
            #expect(lastArchived >= first && lastArchived < blocked, "last archived \(lastArchived), blocked \(blocked)")
            let fetch = try await server.kura(["wal-fetch", blocked, server.root + "/fetched"])
            #expect(fetch.status == 1, "\(fetch)")
            chmod(server.repo + "/wal", 0o700)
            // PostgreSQL retries (after at most a minute); nudge it with another switch.
            _ = try server.sql("INSERT INTO x VALUES (1)")
            _ = try await server.switchAndWaitArchived(timeout: 90)
            let st = try await server.kura(["wal-status", "--json"]).jsonObject()
            #expect((st["gaps"] as? [Any])?.isEmpty == true, "\(st)")
            #expect(st["continuous"] as? Bool == true)
            let got = try await server.kura(["wal-fetch", blocked, server.root + "/fetched"])
            #expect(got.status == 0, "\(got)")

            // config check's view of the settings: this server archives with kura; the shared test server does not.
            let good = try ArchiveSettings.check(server.dsn, configPath: "/etc/kura/kura.toml")
            #expect(good.filter { !$0.ok }.map(\.message) == ["archive_timeout is 300 s: on a quiet server the newest writes may wait long for archiving"] || good.allSatisfy(\.ok), "\(good)")
            let bad = try ArchiveSettings.check(try PG.server().with(dbname: "postgres"), configPath: "/etc/kura/kura.toml")
            #expect(bad.contains { !$0.ok && $0.message.hasPrefix("archive_mode is off") && $0.hint?.contains("archive_mode = on") == true }, "\(bad)")
            #expect(bad.contains { !$0.ok && $0.hint?.contains("archive_command = 'kura wal-push --config /etc/kura/kura.toml %p'") == true }, "\(bad)")

            // Retention: a second base backup; forgetting the first drops the WAL only it needed, and gc keeps the rest.
            _ = try await server.switchAndWaitArchived()
            try await server.kuraOK(["backup", "-q", "--postgres-physical", server.dsn.childConninfo])
            _ = try await server.switchAndWaitArchived()
            let before = try await server.kuraOK(["wal-status", "--json"]).jsonObject()
            let forget = try await server.kuraOK(["forget", "--keep-last", "1", "--json"]).jsonObject()
            let removed = forget["walRemoved"] as? [String] ?? []
            #expect(removed.contains(first) && !removed.isEmpty, "\(forget)")
            try await server.kuraOK(["gc", "-q"])
            let after = try await server.kuraOK(["wal-status", "--json"]).jsonObject()
            #expect(after["continuous"] as? Bool == true && (after["segments"] as? Int ?? 0) < (before["segments"] as? Int ?? 0), "\(before) → \(after)")
            #expect(after["lastSegment"] as? String == before["lastSegment"] as? String)
            let gone = try await server.kura(["wal-fetch", first, server.root + "/gone"])
            #expect(gone.status == 1, "\(gone)")
        }
    }
}

/// wal-push and wal-fetch without a server: a kill -9 mid-upload leaves nothing half-written for
/// wal-fetch; identical pushes are idempotent, different ones refused; the spool takes segments while
/// the repository is away, drains in order, and refuses (loudly) when full.
@Suite struct WALPushTests {
    func segment(_ seed: UInt8) -> [UInt8] {
        // 16 MiB like a real segment: mostly zero (as after a forced switch) with a random head.
        var bytes = [UInt8](repeating: 0, count: 16 << 20)
        var g = SystemRandomNumberGenerator()
        for i in 0..<(1 << 20) { bytes[i] = i % 8 == 0 ? seed : UInt8.random(in: 0...255, using: &g) }
        return bytes
    }

    @Test func killedPushLeavesNoHalfSegment() async throws {
        try await withScratch { s in
            _ = try await s.openRepository()
            let name = "000000010000000000000042"
            let file = s.root + "/" + name
            let contents = segment(1)
            try Data(contents).write(to: URL(fileURLWithPath: file))
            var killedBeforeDone = 0
            for delay in [20, 60, 120, 200, 300] {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: KuraBinary.path)
                p.arguments = ["wal-push", "-q", file, "--repo", s.repo]
                p.environment = ["KURA_PASSWORD": s.password, "KURA_CACHE_DIR": s.root + "/cache", "PATH": "/usr/bin:/bin"]
                try p.run()
                try await Task.sleep(for: .milliseconds(delay))
                if p.isRunning { kill(p.processIdentifier, SIGKILL); killedBeforeDone += 1 }
                p.waitUntilExit()
                let dest = s.root + "/fetched-\(delay)"
                let f = try await s.kura(["wal-fetch", name, dest])
                if f.status == 0 {
                    #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dest))) == contents)
                } else {
                    #expect(f.status == 1, "\(f)")
                    #expect(!FileManager.default.fileExists(atPath: dest))
                }
                if f.status == 0 { break }
            }
            print("wal-push killed \(killedBeforeDone) time(s) before it finished")
            // Whatever the kills left, a full push then succeeds and the segment comes back intact.
            try await s.kuraOK(["wal-push", "-q", file])
            try await s.kuraOK(["wal-fetch", name, s.root + "/final"])
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: s.root + "/final"))) == contents)
            let tmp = try FileManager.default.contentsOfDirectory(atPath: s.root).filter { $0.contains("tmp") }
            #expect(tmp.isEmpty, "\(tmp)")
        }
    }

    @Test func idempotentPushAndSpool() async throws {
        try await withScratch { s in
            _ = try await s.openRepository()
            let a = "000000010000000000000010", b = "000000010000000000000011", c = "000000010000000000000012"
            for (n, seed) in [(a, UInt8(1)), (b, 2), (c, 3)] { try Data(segment(seed)).write(to: URL(fileURLWithPath: s.root + "/" + n)) }
            try await s.kuraOK(["wal-push", "-q", s.root + "/" + a])
            try await s.kuraOK(["wal-push", "-q", s.root + "/" + a])  // a retry: same contents
            try Data(segment(9)).write(to: URL(fileURLWithPath: s.root + "/other"))
            let clash = try await s.kura(["wal-push", s.root + "/other", a])
            #expect(clash.status == 1 && clash.err.contains("different contents"), "\(clash)")
            let missing = try await s.kura(["wal-fetch", "00000001000000000000FF00", s.root + "/nothing"])
            #expect(missing.status == 1, "\(missing)")

            // The repository goes away: segments go to the spool (exit 0), in order; a full spool fails.
            let spool = s.root + "/spool"
            try FileManager.default.moveItem(atPath: s.repo, toPath: s.repo + ".away")
            let r1 = try await s.kura(["wal-push", "--json", "--spool", spool, s.root + "/" + b])
            let outcome = try r1.jsonObject()["outcome"] as? String
            #expect(r1.status == 0 && outcome == "spooled", "\(r1)")
            let full = try await s.kura(["wal-push", "--spool", spool, "--spool-max", "20MB", s.root + "/" + c])
            #expect(full.status != 0 && full.err.contains("WAL SPOOL FULL"), "\(full)")
            let r2 = try await s.kura(["wal-push", "--json", "--spool", spool, s.root + "/" + c])
            #expect(r2.status == 0, "\(r2)")
            // wal-fetch finds spooled files.
            try await s.kuraOK(["wal-fetch", "--spool", spool, b, s.root + "/from-spool"])
            let fromSpool = try Data(contentsOf: URL(fileURLWithPath: s.root + "/from-spool"))
            let original = try Data(contentsOf: URL(fileURLWithPath: s.root + "/" + b))
            #expect(fromSpool == original)
            try FileManager.default.moveItem(atPath: s.repo + ".away", toPath: s.repo)
            let flushed = try await s.kuraOK(["wal-push", "--json", "--flush", "--spool", spool]).jsonObject()
            #expect(flushed["flushed"] as? [String] == [b, c])
            #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty)
            // Any failure but "no such file" exits 126, so PostgreSQL stops recovery instead of ending it early.
            try "not the password\n".write(toFile: s.root + "/wrong", atomically: false, encoding: .utf8)
            chmod(s.root + "/wrong", 0o600)
            let wrong = try await s.kura(["wal-fetch", "--password-file", s.root + "/wrong", a, s.root + "/never"])
            #expect(wrong.status == 126 && wrong.err.contains("wrong password") && !FileManager.default.fileExists(atPath: s.root + "/never"), "\(wrong)")
            // The same through a configuration file (repository, password file, spool).
            try (s.password + "\n").write(toFile: s.root + "/password", atomically: false, encoding: .utf8)
            chmod(s.root + "/password", 0o600)
            try "repository = \"\(s.repo)\"\npassword-file = \"\(s.root)/password\"\nwal-spool = \"\(spool)\"\n[[source]]\nname = \"db\"\ntype = \"postgres\"\ndsn = \"postgresql://x@localhost/postgres\"\nwal-archive = true\n".write(toFile: s.root + "/kura.toml", atomically: false, encoding: .utf8)
            let d = "000000010000000000000013"
            try Data(segment(4)).write(to: URL(fileURLWithPath: s.root + "/" + d))
            let viaConfig = try await runTool(KuraBinary.path, ["wal-push", "--json", "--config", s.root + "/kura.toml", s.root + "/" + d],
                                              environment: ["PATH": "/usr/bin:/bin", "KURA_CACHE_DIR": s.root + "/cache"])
            let viaOutcome = try viaConfig.jsonObject()["outcome"] as? String
            #expect(viaConfig.status == 0 && viaOutcome == "stored", "\(viaConfig)")
            for n in [a, b, c, d] {
                try await s.kuraOK(["wal-fetch", n, s.root + "/got-" + n])
                let got = try Data(contentsOf: URL(fileURLWithPath: s.root + "/got-" + n)), sent = try Data(contentsOf: URL(fileURLWithPath: s.root + "/" + n))
                #expect(got == sent)
            }
        }
    }
}

@Suite struct WALRetentionTests {
    @Test func keepsWhatKeptBaseBackupsNeed() {
        let files = (1...20).map { WALSegment(timeline: 1, number: UInt64($0)).name } + ["00000002.history", WALSegment(timeline: 1, number: 3).name + ".00000028.backup"]
        let now = Date()
        let bases: [(date: Date, startWAL: String?)] = [(now.addingTimeInterval(-30 * 86400), WALSegment(timeline: 1, number: 5).name),
                                                       (now.addingTimeInterval(-10 * 86400), WALSegment(timeline: 1, number: 12).name),
                                                       (now.addingTimeInterval(-1 * 86400), WALSegment(timeline: 1, number: 18).name)]
        let all = WALInspector.unneeded(files: files, bases: bases, keepWAL: nil, now: now)
        #expect(all.count == 5 && all.contains(WALSegment(timeline: 1, number: 3).name + ".00000028.backup") && !all.contains("00000002.history"))
        // keep-wal 14d: the window starts at the base backup taken before 14 days ago (the one of day -30).
        #expect(WALInspector.unneeded(files: files, bases: bases, keepWAL: 14 * 86400, now: now).count == 5)
        // keep-wal 7d: from the day -10 backup on.
        let week = WALInspector.unneeded(files: files, bases: bases, keepWAL: 7 * 86400, now: now)
        #expect(week.count == 12 && !week.contains(WALSegment(timeline: 1, number: 12).name))
        #expect(WALInspector.unneeded(files: files, bases: [], keepWAL: nil, now: now).isEmpty)
        #expect(WALGaps.find(in: files.compactMap(WALSegment.init(name:)).filter { $0.number != 7 && $0.number != 8 }, from: WALSegment(timeline: 1, number: 5))
                == [WALGap(first: WALSegment(timeline: 1, number: 7).name, last: WALSegment(timeline: 1, number: 8).name, count: 2)])
        #expect(WALPosition("16/B374D848")?.description == "16/B374D848")
        #expect(WALSegment(timeline: 1, position: WALPosition("1/2000028")!).name == "000000010000000100000002")
    }
}
