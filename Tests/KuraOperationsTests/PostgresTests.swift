import Foundation
import KuraOperations
import KuraRepository
import Testing
import KuraTestSupport

/// A throwaway PostgreSQL cluster (initdb as the `postgres` user, Unix socket only, trust auth).
final class ThrowawayPostgres: @unchecked Sendable {
    static let bin: String? = {
        for dir in ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/initdb") { return dir }
        return nil
    }()
    static var available: Bool { bin != nil && getpwnam("postgres") != nil && getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") && FileManager.default.isExecutableFile(atPath: "/usr/bin/pg_dump") }

    let dir: String
    let port = Int.random(in: 20_000..<30_000)
    var dsn: String { "host=\(dir) port=\(port) user=postgres dbname=postgres" }

    init(in root: String) {
        dir = root + "/pg"
    }

    func start(_ root: String) async throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pw = getpwnam("postgres")!.pointee
        chown(dir, pw.pw_uid, pw.pw_gid)
        chmod(root, 0o755)
        try await run(["/usr/sbin/runuser", "-u", "postgres", "--", ThrowawayPostgres.bin! + "/initdb", "-D", dir + "/data", "-A", "trust", "-U", "postgres", "--no-sync"])
        try await run(["/usr/sbin/runuser", "-u", "postgres", "--", ThrowawayPostgres.bin! + "/pg_ctl", "-D", dir + "/data", "-w", "-l", dir + "/log",
                 "-o", "-k \(dir) -p \(port) -c listen_addresses='' -c fsync=off", "start"])
        started = true
    }

    private var started = false

    /// Stops the server even when a test failed half-way.
    deinit {
        guard started else { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", "postgres", "--", ThrowawayPostgres.bin! + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "stop"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try? p.run(); p.waitUntilExit()
    }

    func stop() async { started = false; try? await run(["/usr/sbin/runuser", "-u", "postgres", "--", ThrowawayPostgres.bin! + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "stop"]) }

    func psql(_ sql: String, db: String = "postgres") async throws {
        try await run(["/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname=host=\(dir) port=\(port) user=postgres dbname=\(db)", "-c", sql])
    }

    /// Runs a program without blocking a thread of the cooperative pool. It runs under a small
    /// Python wrapper that closes inherited descriptors: Foundation's `Process` notices the end of a
    /// child through a descriptor the child inherits, and the server pg_ctl starts would keep it open.
    func run(_ argv: [String]) async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))"] + argv
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        let status: Int32 = await withCheckedContinuation { c in
            p.terminationHandler = { c.resume(returning: $0.terminationStatus) }
            do { try p.run() } catch { p.terminationHandler = nil; c.resume(returning: -1) }
        }
        guard status == 0 else { throw KuraError(.commandFailed, "\(argv.joined(separator: " ")) exited \(status)") }
    }
}

@Suite("postgres source (pg_dump through runStreams)", .enabled(if: ThrowawayPostgres.available, "needs PostgreSQL server binaries and a postgres user"))
struct PostgresTests {
    @Test func dumpsEveryDatabaseWithRowCounts() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let pg = ThrowawayPostgres(in: s.root)
        try await pg.start(s.root)
        try await pg.psql("CREATE DATABASE app")
        try await pg.psql("CREATE TABLE items(id int primary key, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1234) g; CREATE TABLE empty(x int)", db: "app")
        let config = try s.writeConfig(s.header + """
        [[source]]
        name = "db"
        type = "postgres"
        dsn = "\(pg.dsn)"
        databases = ["app"]
        format = "plain"
        row-counts = true
        keep = { daily = 7 }

        [[source]]
        name = "wrong-db"
        type = "postgres"
        dsn = "\(pg.dsn)"
        databases = ["does_not_exist"]
        """)
        let outcome = try await Runner(config: config, environment: s.environment, logger: quietLogger).run(RunRequest())
        let db = try #require(outcome.results.first?.report)
        #expect(db.success, "\(db.error ?? "")")
        #expect(db.files == 3, "app.sql, globals.sql and manifest.json")
        let wrong = try #require(outcome.results.last?.report)
        #expect(!wrong.success && wrong.error?.contains("does_not_exist") == true, "\(wrong.error ?? "")")
        let repo = try await s.openRepository()
        let snap = try #require(try await repo.listSnapshots().first)
        #expect(snap.source == "postgres" && snap.paths.contains("/postgres/app.sql") && snap.tags == ["source:db"], "\(snap.paths) \(snap.tags)")
        let rootTree = try await repo.loadTree(try #require(snap.treeID))
        let folder = try #require(rootTree.node(named: Array("postgres".utf8))?.subtree)
        let postgres = try await repo.loadTree(folder)
        func contents(_ name: String) async throws -> String {
            let node = try #require(postgres.node(named: Array(name.utf8)))
            var out: [UInt8] = []
            for e in node.content { if let id = e.id { out += try await repo.loadBlob(id) } }
            return String(decoding: out, as: UTF8.self)
        }
        let dump = try await contents("app.sql")
        #expect(dump.contains("CREATE TABLE public.items") && dump.contains("1234\titem 1234"), "\(dump.prefix(500))")
        // The same backup as `kura backup --postgres`: exact row counts in the manifest.
        let manifest = try await contents("manifest.json")
        #expect(manifest.contains("\"items\"") && manifest.contains("1234"), "\(manifest.prefix(800))")
        #expect(try await contents("globals.sql").contains("ROLE"))
        // config check connects to the server.
        let findings = await {
            var c = ConfigChecker(config: config, environment: s.environment)
            c.testNotifications = false
            return await c.run()
        }()
        #expect(findings.contains { $0.subject == "source db" && $0.message.hasPrefix("connected to") }, "\(findings)")
        await pg.stop()
    }
}
