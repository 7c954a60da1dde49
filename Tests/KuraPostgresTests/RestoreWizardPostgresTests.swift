import Foundation
import KuraTestSupport
import Testing

extension PostgresTests {
    /// The team's "database only broken" scenario through a real pseudo-terminal: `kura restore`
    /// alone, a database, the latest dump, one table picked from the dump's table list by filtering,
    /// into a new database; the rows are checked in PostgreSQL.
    @Test func restoreWizardDatabaseOnlyBroken() async throws {
        let db = try PG.createDatabase("wizard")
        defer { PG.dropDatabase(db) }
        try PG.sql(db, "CREATE TABLE orders AS SELECT i AS id, md5(i::text) AS v FROM generate_series(1, 500) i")
        try PG.sql(db, "CREATE TABLE customers AS SELECT i AS id FROM generate_series(1, 40) i")
        let server = try PG.server().with(dbname: db).conninfo
        let into = db + "_back"
        defer { PG.dropDatabase(into) }
        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            try await s.kuraOK(["backup", "-q", "--postgres", server])
            // It broke: the orders are gone.
            try PG.sql(db, "DELETE FROM orders")

            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
            env["KURA_PASSWORD"] = s.password
            env["KURA_CACHE_DIR"] = s.root + "/cache"
            env["KURA_STATE_DIR"] = s.root + "/state"
            let t = try PseudoTerminal(KuraBinary.url, ["restore", "--repo", s.repo], environment: env, directory: URL(fileURLWithPath: s.root))
            try t.expect("1. What broke?"); try t.expect("choose 1-3 [1]: "); t.send("")  // a database
            try t.expect("postgres dumps"); try t.expect("choose 1-1 [1]: "); t.send("")
            try t.expect("2. Back to when?"); try t.expect("choose 1-1 [1]: "); t.send("")
            try t.expect("3. What exactly?"); try t.expect("some tables (2)"); try t.expect("choose 1-2 [1]: "); t.send("2")
            try t.expect("2 tables:"); try t.expect("empty when done: ")
            t.send("ord")  // filter
            let filtered = try t.expect("empty when done: ")
            #expect(filtered.contains("1 of 2 tables contain 'ord'") && filtered.contains("public.orders") && !filtered.contains("customers"), "\(filtered)")
            t.send("1")
            try t.expect("Picked: public.orders"); try t.expect("empty when done: ")
            t.send("")
            try t.expect("4. Where to?"); try t.expect("choose 1-1 [1]: "); t.send("")
            try t.expect("name of the new database ["); t.send(into)
            let summary = try t.expect("Go ahead? (y/n) [y]: ")
            #expect(summary.contains("kura restore-db ") && summary.contains("--into \(into) --create --table public.orders"), "\(summary)")
            t.send("y")
            try t.expect("check it: psql -d \(into)")
            #expect(try t.wait() == 0, "\(t.transcript)")

            #expect(try PG.value(into, "SELECT count(*) FROM orders") == "500")
            #expect(try PG.value(into, "SELECT md5(string_agg(v, ',' ORDER BY id)) FROM orders") == PG.value("postgres", "SELECT md5(string_agg(md5(i::text), ',' ORDER BY i)) FROM generate_series(1, 500) i"))
            #expect(try PG.value(into, "SELECT to_regclass('public.customers')::text") == nil, "only the picked table")
            #expect(try PG.value(db, "SELECT count(*) FROM orders") == "0", "a new database leaves the broken one alone")
        }
    }

    /// In place over a configured PostgreSQL source: the safety dump first (it holds the broken
    /// state), then the database dropped and restored from the chosen dump.
    @Test func restoreWizardDatabaseInPlace() async throws {
        let db = try PG.createDatabase("wizin")
        let safetyCopy = db + "_safety"
        defer { PG.dropDatabase(db); PG.dropDatabase(safetyCopy) }
        try PG.sql(db, "CREATE TABLE orders AS SELECT i AS id FROM generate_series(1, 300) i")
        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            let config = s.root + "/kura.toml"
            try Data("""
                repository = "\(s.repo)"
                state-dir = "\(s.root)/state"

                [[source]]
                name = "shop"
                type = "postgres"
                dsn = "\(try PG.server().with(dbname: "postgres").conninfo)"
                databases = ["\(db)"]
                """.utf8).write(to: URL(fileURLWithPath: config))
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
            env["KURA_PASSWORD"] = s.password
            env["KURA_CACHE_DIR"] = s.root + "/cache"
            #expect(try await runTool(KuraBinary.path, ["run", "--config", config], environment: env).status == 0)
            try PG.sql(db, "DELETE FROM orders WHERE id > 100")  // it broke

            let t = try PseudoTerminal(KuraBinary.url, ["restore", "--config", config], environment: env, directory: URL(fileURLWithPath: s.root))
            try t.expect("choose 1-3 [1]: "); t.send("")
            try t.expect("shop  (PostgreSQL)"); try t.expect("choose 1-1 [1]: "); t.send("")
            try t.expect("2. Back to when?"); try t.expect("choose 1-1 [1]: "); t.send("")
            try t.expect("3. What exactly?"); try t.expect("choose 1-2 [1]: "); t.send("1")
            try t.expect("in place, over \(db)"); try t.expect("choose 1-2 [1]: "); t.send("2")
            let summary = try t.expect("Type the source name (shop)")
            #expect(summary.contains("--into \(db) --clean --create"), "\(summary)")
            t.send("shop")
            let end = try t.expect("to undo")
            #expect(end.contains("safety snapshot"), "\(end)")
            #expect(try t.wait() == 0, "\(t.transcript)")
            #expect(try PG.value(db, "SELECT count(*) FROM orders") == "300")

            // The safety snapshot holds the state before the restore.
            let list = try await s.kuraOK(["snapshots", "--json", "--tag", "before-restore"]).jsonArray()
            let id = try #require(list.first?["short"] as? String)
            try await s.kuraOK(["restore-db", "-q", "\(id):\(db)", "--into", safetyCopy, "--create"])
            #expect(try PG.value(safetyCopy, "SELECT count(*) FROM orders") == "100")
        }
    }
}
