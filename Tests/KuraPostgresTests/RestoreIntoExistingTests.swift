import Foundation
import KuraPostgres
import KuraTestSupport
import Testing

extension PostgresTests {
    /// `restore-db` into an existing database without --clean used to fail on the first object that
    /// existed and leave other tables created but empty, with no hint. Now it looks first and refuses
    /// with the way out, changing nothing; and a restore that fails part-way is rolled back.
    @Test func restoreIntoAnExistingDatabaseRefusesOrRollsBack() async throws {
        let db = try PG.createDatabase("existing")
        let into = try PG.createDatabase("existing_into")
        defer { PG.dropDatabase(db); PG.dropDatabase(into) }
        try PG.sql(db, """
            CREATE TABLE a AS SELECT i FROM generate_series(1, 100) i;
            CREATE TABLE b AS SELECT i FROM generate_series(1, 50) i;
            """)
        try PG.sql(into, "CREATE TABLE b (x text); INSERT INTO b VALUES ('mine')")

        try await withScratch { s in
            let repo = try await s.openRepository()
            _ = try await backupPostgres(repo, databases: [db])
            let r = try await s.kura(["restore-db", "latest:\(db)", "--into", into])
            #expect(r.status == 1 && r.err.contains("already has 1 of the tables") && r.err.contains("--clean"), "\(r)")
            #expect(try PG.value(into, "SELECT count(*) FROM pg_tables WHERE tablename = 'a'") == "0", "a table was created anyway")
            #expect(try PG.value(into, "SELECT x FROM b") == "mine")

            // A clash the pre-check cannot see (a view named like a table of the dump): the restore
            // fails part-way and is rolled back, leaving nothing half-restored.
            try PG.sql(into, "DROP TABLE b; CREATE VIEW b AS SELECT 1 AS x")
            let failed = try await s.kura(["restore-db", "latest:\(db)", "--into", into])
            #expect(failed.status == 1 && failed.err.contains("rolled back"), "\(failed)")
            #expect(try PG.value(into, "SELECT count(*) FROM pg_tables WHERE tablename = 'a'") == "0", "half-restored: \(failed)")

            // One table, into a fresh database: its size is reported (it used to say "0 B").
            let one = try await s.kuraOK(["restore-db", "latest:\(db)", "--into", into + "_one", "--create", "--table", "public.a", "--json"]).jsonObject()
            defer { PG.dropDatabase(into + "_one") }
            #expect(((one["result"] as? [String: Any])?["bytes"] as? Int ?? 0) > 0, "\(one)")
            #expect(try PG.value(into + "_one", "SELECT count(*) FROM a") == "100")

            // With --clean it replaces what is there.
            try PG.sql(into, "DROP VIEW b")
            try await s.kuraOK(["restore-db", "latest:\(db)", "--into", into, "--clean"])
            #expect(try PG.value(into, "SELECT count(*) FROM a") == "100")
            #expect(try PG.value(into, "SELECT count(*) FROM b") == "50")
        }
    }
}
