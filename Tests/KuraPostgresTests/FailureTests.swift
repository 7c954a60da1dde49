import Foundation
import KuraPostgres
import Testing
import KuraTestSupport

extension PostgresTests {
    /// A folder with a `pg_dump` that answers --version like the real one but, when dumping, runs
    /// the real pg_dump and then fails in the given way.
    static func pgDumpShim(_ folder: String, failure: String) throws -> String {
        let real = try PostgresTools().path("pg_dump")
        let dir = folder + "/shim"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            case "$1" in --version) exec \(real) "$@";; esac
            \(failure.replacingOccurrences(of: "REAL", with: real))

            """
        try Data(script.utf8).write(to: URL(fileURLWithPath: dir + "/pg_dump"))
        chmod(dir + "/pg_dump", 0o755)
        return dir + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    }

    /// pg_dump killed mid-stream (after 3 MB), or exiting 1 after a complete dump: the backup fails
    /// with exit 1, pg_dump's error text reaches the user, and no snapshot is saved. The repository
    /// stays consistent (check passes) and a later good backup works.
    @Test func failingPgDumpLeavesNoSnapshot() async throws {
        let db = try PG.createDatabase("fail")
        defer { PG.dropDatabase(db) }
        try PG.sql(db, "CREATE TABLE t AS SELECT i, repeat(md5(i::text), 4) AS v FROM generate_series(1, 100000) i")
        let server = try PG.server().with(dbname: db).conninfo
        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            let killed = try Self.pgDumpShim(s.root, failure: """
                REAL "$@" | head -c 3000000
                echo "pg_dump: error: simulated: server closed the connection unexpectedly" >&2
                kill -KILL $$
                """)
            let r1 = try await s.kura(["backup", "--postgres", server], path: killed)
            #expect(r1.status == 1, "\(r1)")
            #expect(r1.err.contains("simulated: server closed the connection unexpectedly"), "\(r1)")
            #expect(r1.err.contains("killed by signal 9") && r1.err.contains("no snapshot was saved"), "\(r1)")
            #expect(try await s.kuraOK(["snapshots", "--json"]).out.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

            try FileManager.default.removeItem(atPath: s.root + "/shim")
            let exits = try Self.pgDumpShim(s.root, failure: """
                REAL "$@" || exit $?
                echo "pg_dump: error: simulated: query failed after the last byte" >&2
                exit 1
                """)
            let r2 = try await s.kura(["backup", "--json", "--postgres", server], path: exits)
            #expect(r2.status == 1 && r2.err.contains("simulated: query failed after the last byte") && r2.err.contains("exited with status 1"), "\(r2)")
            #expect(((try? r2.json()) as? [String: Any])?["error"] != nil, "--json reports the error as JSON: \(r2)")
            #expect(try await s.kuraOK(["snapshots", "--json"]).out.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

            try await s.kuraOK(["check", "-q"])
            let good = try await s.kuraOK(["backup", "--json", "--postgres", server]).jsonObject()
            #expect(good["snapshot"] as? String != nil)
            #expect(try await s.kuraOK(["verify-restore", "-q"]).status == 0)

            // A pg_restore that fails: restore-db and verify-restore exit 1 with its message; the
            // failed verification is recorded and its scratch database dropped.
            let real = try PostgresTools().path("pg_restore")
            let broken = s.root + "/broken"
            try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
            try Data("#!/bin/sh\ncase \"$1\" in --version) exec \(real) \"$@\";; esac\necho 'pg_restore: error: simulated: could not execute query' >&2\nexit 1\n".utf8)
                .write(to: URL(fileURLWithPath: broken + "/pg_restore"))
            chmod(broken + "/pg_restore", 0o755)
            let path = broken + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "")
            let before = Set(try PG.databases())
            let restore = try await s.kura(["restore-db", "latest", "--into", db + "_x", "--create"], path: path)
            #expect(restore.status == 1 && restore.err.contains("simulated: could not execute query") && restore.err.contains("exited with status 1"), "\(restore)")
            PG.dropDatabase(db + "_x")
            let verify = try await s.kura(["verify-restore", "--json"], path: path)
            #expect(verify.status == 1, "\(verify)")
            let report = try #require(try verify.jsonObject()["report"] as? [String: Any])
            let dbs = try #require(report["databases"] as? [[String: Any]])
            #expect(report["ok"] as? Bool == false && dbs.first?["dropped"] as? Bool == true)
            #expect((dbs.first?["error"] as? String)?.contains("simulated: could not execute query") == true)
            #expect(Set(try PG.databases()) == before)
            let history = try await s.kuraOK(["verify-restore", "--history"])
            #expect(history.out.contains("PASSED") && history.out.contains("FAILED"), "\(history)")
        }
    }

    /// A pg_dump older than the server is refused before anything runs; a server that is not there
    /// and a database that does not exist give clear messages; a password in the connection string
    /// never appears in the output.
    @Test func refusalsAreClearAndKeepThePasswordSecret() async throws {
        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            let server = try PG.server()
            let dir = s.root + "/old"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n".utf8).write(to: URL(fileURLWithPath: dir + "/pg_dump"))
            chmod(dir + "/pg_dump", 0o755)
            let old = try await s.kura(["backup", "--postgres", server.with(dbname: "postgres").conninfo],
                                      path: dir + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? ""))
            #expect(old.status == 1 && old.err.contains("pg_dump 9.6.24") && old.err.contains("older than the server"), "\(old)")

            let secret = "s3cret-\(UUID().uuidString.prefix(6))"
            let missing = try await s.kura(["backup", "--postgres", "postgresql://postgres:\(secret)@127.0.0.1:1/app"])
            #expect(missing.status == 1 && missing.err.contains("cannot connect"), "\(missing)")
            #expect(!missing.all.contains(secret))
            let nodb = try await s.kura(["backup", "--postgres", server.adding(["password": secret]).conninfo, "--database", "no_such_db_\(secret)"])
            #expect(nodb.status == 1 && nodb.err.contains("does not exist"), "\(nodb)")
            #expect(!nodb.err.replacingOccurrences(of: "no_such_db_\(secret)", with: "").contains(secret))
            let physical = try await s.kura(["restore-physical", "--target", s.root + "/x"])
            #expect(physical.status == 1 && physical.err.contains("postgres-physical"), "\(physical)")
        }
    }
}

