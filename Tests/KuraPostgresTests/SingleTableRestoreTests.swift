import Foundation
import KuraPostgres
import KuraTestSupport
import Testing

extension PostgresTests {
    /// `restore-db … --table app.items` into a fresh database used to fail with `schema "app" does not
    /// exist` (`pg_restore -t` restores the bare table). Now it brings what the table needs: the
    /// schema, its owned sequence (continuing from the right value), defaults, indexes, constraints,
    /// triggers with their function, comments and grants; a foreign key to a table not restored is left
    /// out with a warning, or its table restored too with --with-dependencies.
    @Test func singleTableRestoreBringsWhatTheTableNeeds() async throws {
        let db = try PG.createDatabase("onetable")
        defer { PG.dropDatabase(db); PG.dropDatabase(db + "_t"); PG.dropDatabase(db + "_d") }
        try PG.sql(db, """
            CREATE SCHEMA app;
            CREATE TABLE app.customers (id serial PRIMARY KEY, name text NOT NULL);
            CREATE TABLE app.items (
                id bigserial PRIMARY KEY,
                customer int REFERENCES app.customers(id),
                name text NOT NULL DEFAULT 'unnamed',
                qty int CHECK (qty > 0),
                touched timestamptz);
            CREATE INDEX items_name_idx ON app.items (name);
            CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := now(); RETURN NEW; END $$;
            CREATE TRIGGER items_touch BEFORE INSERT ON app.items FOR EACH ROW EXECUTE FUNCTION app.touch();
            COMMENT ON TABLE app.items IS 'what was ordered';
            GRANT SELECT ON app.items TO PUBLIC;
            INSERT INTO app.customers (name) VALUES ('a'), ('b');
            INSERT INTO app.items (customer, name, qty) SELECT 1 + i % 2, 'item ' || i, i FROM generate_series(1, 40) i;
            """)
        try await withScratch { s in
            let repo = try await s.openRepository()
            _ = try await backupPostgres(repo, databases: [db])

            let r = try await s.kura(["restore-db", "latest:\(db)", "--into", db + "_t", "--create", "--table", "app.items"])
            #expect(r.status == 0, "\(r)")
            #expect(r.err.contains("foreign key") && r.err.contains("app.customers"), "the skipped foreign key is not reported: \(r.err)")
            let t = db + "_t"
            #expect(try PG.value(t, "SELECT count(*) FROM app.items") == "40")
            #expect(try PG.value(t, "SELECT count(*) FROM pg_tables WHERE schemaname = 'app' AND tablename = 'customers'") == "0")
            // The sequence goes on from where it was; the default, the check and the trigger work.
            try PG.sql(t, "INSERT INTO app.items (qty) VALUES (5)")
            #expect(try PG.value(t, "SELECT max(id) FROM app.items") == "41")
            #expect(try PG.value(t, "SELECT name FROM app.items WHERE id = 41") == "unnamed")
            #expect(try PG.value(t, "SELECT touched IS NOT NULL FROM app.items WHERE id = 41") == "t")
            #expect(throws: (any Error).self) { try PG.sql(t, "INSERT INTO app.items (qty) VALUES (0)") }
            #expect(try PG.value(t, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'app' AND indexname = 'items_name_idx'") == "1")
            #expect(try PG.value(t, "SELECT obj_description('app.items'::regclass)") == "what was ordered")
            #expect(try PG.value(t, "SELECT has_table_privilege('public', 'app.items', 'SELECT')") == "t")

            // With --with-dependencies the referenced table comes too, and the foreign key is there.
            try await s.kuraOK(["restore-db", "latest:\(db)", "--into", db + "_d", "--create", "--table", "app.items", "--with-dependencies"])
            #expect(try PG.value(db + "_d", "SELECT count(*) FROM app.customers") == "2")
            #expect(try PG.value(db + "_d", "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'app.items'::regclass") == "1")

            // Into the existing database with --clean: the damaged table is replaced, the rest untouched.
            try PG.sql(db, "DELETE FROM app.items WHERE id > 10; UPDATE app.customers SET name = 'kept'")
            try await s.kuraOK(["restore-db", "latest:\(db)", "--into", db, "--table", "app.items", "--clean"])
            #expect(try PG.value(db, "SELECT count(*) FROM app.items") == "40")
            #expect(try PG.value(db, "SELECT min(name) FROM app.customers") == "kept")
            // The foreign key to the table that stayed is restored with it.
            #expect(try PG.value(db, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'app.items'::regclass") == "1")
        }
    }
}
