import Foundation
import KuraArchiver
import KuraPostgres
import KuraRepository
import KuraStore
import Testing

#if canImport(Glibc)
import Glibc
import KuraTestSupport
#endif

// The tests run against a real PostgreSQL server started by `pg-test-server.sh start` (make test
// does it and sets KURA_PG_TESTS=1). With KURA_PG_TESTS=1 a missing or dead server fails the tests;
// without it (a plain `swift test`) they run only if a test server's env file exists.

/// Every test that needs the server is in this one serialized suite (they share a server and two
/// cores; one big dump at a time keeps the run short and predictable).
@Suite(.serialized, .enabled(if: PG.enabled, "needs the test PostgreSQL server: run `make test`, or Tests/KuraPostgresTests/pg-test-server.sh start"))
struct PostgresTests {}

enum PG {
    static let folder = ProcessInfo.processInfo.environment["KURA_PG_TEST_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp/kura-pg-test"
    static let required = ProcessInfo.processInfo.environment["KURA_PG_TESTS"] == "1"
    static var enabled: Bool { required || FileManager.default.fileExists(atPath: folder + "/env") }

    /// The settings the script wrote (PGHOST, PGPORT, PGUSER, KURA_PG_TEST_BINDIR, KURA_PG_TEST_DATA).
    static func settings() throws -> [String: String] {
        guard let text = try? String(contentsOfFile: folder + "/env", encoding: .utf8) else {
            throw KuraError(.notFound, "no PostgreSQL test server: \(folder)/env is missing (KURA_PG_TESTS=1 requires one; start it with KURA_PG_TEST_DIR=\(folder) Tests/KuraPostgresTests/pg-test-server.sh start)")
        }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    /// The test server (no password: trust authentication).
    static func server() throws -> PostgresDSN {
        let s = try settings()
        return PostgresDSN(settings: ["host": s["PGHOST"] ?? "", "port": s["PGPORT"] ?? "", "user": s["PGUSER"] ?? "postgres"])
    }

    static func dsn(_ db: String) throws -> PostgresDSN { try server().with(dbname: db) }

    static func bindir() throws -> String { try settings()["KURA_PG_TEST_BINDIR"] ?? "/usr/lib/postgresql/15/bin" }

    /// Runs SQL in a database and returns the rows.
    @discardableResult
    static func sql(_ db: String, _ text: String) throws -> [[String?]] {
        let c = try PostgresConnection(try dsn(db))
        defer { c.close() }
        return try c.query(text)
    }

    static func value(_ db: String, _ text: String) throws -> String? { try sql(db, text).first?.first ?? nil }

    /// A new empty database with a unique name.
    static func createDatabase(_ label: String) throws -> String {
        let name = "kt_\(label)_\(UUID().uuidString.prefix(8).lowercased())"
        try sql("postgres", "CREATE DATABASE \(PostgresConnection.quoteIdentifier(name))")
        return name
    }

    static func dropDatabase(_ name: String) {
        _ = try? sql("postgres", "DROP DATABASE IF EXISTS \(PostgresConnection.quoteIdentifier(name)) WITH (FORCE)")
    }

    static func databases() throws -> [String] { try sql("postgres", "SELECT datname FROM pg_database ORDER BY 1").compactMap { $0[0] } }

    /// What a restore must reproduce: every table's row count and row hash, every sequence's last
    /// value, every large object's content hash.
    static func fingerprint(_ db: String) throws -> [String: String] {
        let c = try PostgresConnection(try dsn(db))
        defer { c.close() }
        try Catalog.prepare(c)
        var out: [String: String] = [:]
        for t in try Catalog.tables(c) {
            out["table \(t.display)"] = "\(try Catalog.count(c, t)) \(try Catalog.hash(c, t))"
        }
        for row in try c.query("SELECT schemaname || '.' || sequencename, coalesce(last_value::text, 'null') FROM pg_sequences") {
            out["sequence \(row[0] ?? "")"] = row[1] ?? ""
        }
        for row in try c.query("SELECT oid::text, md5(lo_get(oid)) FROM pg_largeobject_metadata") {
            out["large object \(row[0] ?? "")"] = row[1] ?? ""
        }
        return out
    }
}

/// A private folder (and repository) per test, removed at the end.
final class Scratch: @unchecked Sendable {
    let root: String
    let password = "pw-\(UUID().uuidString)"
    var repo: String { root + "/repo" }

    init(_ label: String = #function) throws {
        let safe = label.filter { $0.isLetter || $0.isNumber }.prefix(30)
        root = NSTemporaryDirectory() + "kura-pg-\(safe)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// A repository opened in-process (scrypt cost lowered for speed; default chunker).
    func openRepository() async throws -> Repository {
        if FileManager.default.fileExists(atPath: repo + "/config") {
            return try await Repository.open(store: try StoreFactory.open(repo), password: Array(password.utf8))
        }
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        return try await Repository.initialize(store: try StoreFactory.open(repo, create: true), password: Array(password.utf8), options: options)
    }

    /// Runs the kura binary against this repository.
    func kura(_ arguments: [String], path: String? = nil) async throws -> RunResult {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
        env["KURA_PASSWORD"] = password
        env["KURA_CACHE_DIR"] = root + "/cache"
        if let path { env["PATH"] = path }
        return try await runTool(KuraBinary.path, arguments + ["--repo", repo], environment: env)
    }

    @discardableResult
    func kuraOK(_ arguments: [String], path: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
        let r = try await kura(arguments, path: path)
        try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        return r
    }
}

func withScratch<T>(_ label: String = #function, _ body: (Scratch) async throws -> T) async throws -> T {
    let s = try Scratch(label)
    defer { s.remove() }
    return try await body(s)
}

/// Runs a program to completion, its output captured through files (no pipe can fill up).
func runTool(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> RunResult {
    try await TestProcess.run(URL(fileURLWithPath: executable), arguments, environment: environment)
}

/// Runs a PostgreSQL server program as the server's owner (postgres when the tests run as root).
///
/// Foundation's Process learns that a child exited when a socket the child inherited is closed; a
/// daemon the child starts (pg_ctl start → postgres) would inherit it as well and keep the test
/// waiting until the server stops. So bash (dash takes only one-digit descriptors) closes every descriptor above 2 first.
func asServerOwner(_ program: String, _ arguments: [String]) async throws -> RunResult {
    let closeAndRun = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\" 2>/dev/null; done; exec \"$@\""
    let argv = geteuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", program] + arguments : [program] + arguments
    return try await runTool("/bin/bash", ["-c", closeAndRun, "bash"] + argv)
}

/// A backup of `databases` made in-process (the library path the CLI uses).
func backupPostgres(_ repo: Repository, databases: [String], format: DumpFormat = .custom, hashes: Bool = false,
                    tags: [String] = []) async throws -> PostgresBackupResult {
    var options = PostgresBackupOptions(dsn: try PG.server())
    options.databases = databases
    options.format = format
    options.rowHashes = hashes
    var backup = BackupOptions(paths: [])
    backup.tags = tags
    return try await PostgresBackup(options: options).run(archiver: Archiver(repository: repo, options: backup))
}
