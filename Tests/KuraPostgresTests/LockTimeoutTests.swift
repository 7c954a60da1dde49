import Foundation
import KuraPostgres
import KuraTestSupport
import Testing

extension PostgresTests {
    /// Another session holds `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` (a migration, a stuck
    /// transaction): the backup used to wait forever in its row count, printing nothing. Now it waits
    /// for the lock timeout, fails, and names the table and the session that holds the lock.
    @Test func aLockedTableFailsTheBackupAndNamesTheHolder() async throws {
        let db = try PG.createDatabase("locked")
        defer { PG.dropDatabase(db) }
        try PG.sql(db, "CREATE TABLE busy AS SELECT i FROM generate_series(1, 100) i")
        let holder = try PostgresConnection(try PG.dsn(db))
        defer { holder.close() }
        try holder.query("BEGIN")
        try holder.query("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
        let holderPID = try #require(try holder.value("SELECT pg_backend_pid()"))

        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            let started = Date()
            let r = try await s.kura(["backup", "--postgres", try PG.dsn(db).conninfo, "--lock-timeout", "2s"])
            let seconds = Date().timeIntervalSince(started)
            #expect(r.status == 1, "\(r)")
            #expect(seconds < 60, "the backup waited \(seconds) s")
            #expect(r.err.contains("busy") && r.err.contains("stayed locked") && r.err.contains("pid \(holderPID)"), "\(r.err)")
            let list = try await s.kuraOK(["snapshots", "--json"])
            #expect(list.out.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "a snapshot was saved: \(list.out)")
            // A bad duration is a usage error.
            #expect(try await s.kura(["backup", "--postgres", try PG.dsn(db).conninfo, "--lock-timeout", "soon"]).status == 64)
        }
        try holder.query("ROLLBACK")
    }
}
