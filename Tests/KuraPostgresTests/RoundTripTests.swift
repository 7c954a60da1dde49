import Foundation
import KuraPostgres
import KuraRepository
import KuraRestorer
import Testing
import KuraTestSupport

extension PostgresTests {
    /// Several schemas (one with a quote and non-ASCII in its name), sequences, large objects (from
    /// lo_import and lo_from_bytea), non-ASCII text and a 200 MB table: backed up, restored into a
    /// new database, and compared table by table (count and row hash), sequence by sequence and
    /// large object by large object. Then single tables are restored over damaged ones.
    @Test func roundTripWithSchemasLargeObjectsSequencesAndA200MBTable() async throws {
        let db = try PG.createDatabase("roundtrip")
        let restored = db + "_r"
        defer { PG.dropDatabase(db); PG.dropDatabase(restored) }
        // A file for the server-side lo_import (in the test server's folder, which it can read).
        let loFile = PG.folder + "/lo-\(UUID().uuidString.prefix(8))"
        let loBytes = randomBytes(3 << 20, seed: 42)
        try Data(loBytes).write(to: URL(fileURLWithPath: loFile))
        chmod(loFile, 0o644)
        defer { unlink(loFile) }

        try PG.sql(db, """
            CREATE SCHEMA sales;
            CREATE SCHEMA "Ünï ""quoted"" schema";
            CREATE TABLE sales.orders (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(12,2), placed timestamptz DEFAULT '2026-01-01 12:00+09');
            INSERT INTO sales.orders (customer, total) SELECT 'customer ' || i, i * 1.25 FROM generate_series(1, 5000) i;
            CREATE SEQUENCE public.invoice_no START 1000;
            SELECT setval('public.invoice_no', 4242);
            CREATE TABLE "Ünï ""quoted"" schema"."Texte mit Ümlauten" (id int PRIMARY KEY, body text, tags text[], doc jsonb);
            INSERT INTO "Ünï ""quoted"" schema"."Texte mit Ümlauten" VALUES
              (1, '蔵 (kura) storehouse', '{蔵,倉庫}', '{"emoji": "🐘🔒"}'),
              (2, 'Grüße, Ωμέγα, привет, שלום, 🐘', '{a,b}', '{"k": [1, 2, 3]}'),
              (3, E'tab\\tnewline\\nquote'' backslash\\\\ end', NULL, NULL);
            CREATE TABLE public.documents (id int PRIMARY KEY, name text, content oid);
            INSERT INTO public.documents VALUES
              (1, 'imported', lo_import('\(loFile)')),
              (2, 'from bytea', lo_from_bytea(0, convert_to('large object 蔵', 'UTF8'))),
              (3, 'a megabyte', lo_from_bytea(0, decode(repeat('00ff17', 350000), 'hex')));
            CREATE SCHEMA big;
            CREATE TABLE big.events (id bigint PRIMARY KEY, payload text, amount numeric, at timestamptz);
            INSERT INTO big.events SELECT i, md5(i::text) || md5((i + 1)::text) || md5((i + 2)::text) || md5((i + 3)::text) || md5((i + 4)::text),
                   i * 1.5, '2020-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 1000000) i;
            """)
        let bigSize = Int64(try PG.value(db, "SELECT pg_total_relation_size('big.events')") ?? "0") ?? 0
        #expect(bigSize >= 200_000_000, "the big table has \(bigSize) bytes")
        let before = try PG.fingerprint(db)
        #expect(before["sequence public.invoice_no"] == "4242")
        #expect(before.keys.filter { $0.hasPrefix("large object") }.count == 3)

        try await withScratch { scratch in
            let repo = try await scratch.openRepository()
            let backup = try await backupPostgres(repo, databases: [db])
            let snapshot = backup.backup.snapshot
            #expect(snapshot.source == "postgres")
            #expect(snapshot.paths.sorted() == ["/postgres/\(db).dump", "/postgres/globals.sql", "/postgres/manifest.json"].sorted())
            let m = backup.manifest
            #expect(m.server.versionNumber >= 100000)
            let entry = try #require(m.databases.first)
            #expect(entry.format == "custom" && entry.path == "/postgres/\(db).dump")
            #expect(entry.dumpBytes > 200_000_000 && entry.dumpSeconds > 0)
            #expect(entry.tables.first { $0.schema == "big" }?.rows == 1_000_000)
            #expect(entry.tables.first { $0.name == "Texte mit Ümlauten" }?.schema == "Ünï \"quoted\" schema")
            #expect(entry.tables.first { $0.name == "orders" }?.rows == 5000)
            // The manifest in the snapshot is the one returned (written after the dumps, with their sizes).
            let stored = try await DatabaseRestorer(repository: repo, snapshot: snapshot).manifest()
            #expect(stored == m)
            #expect(m.globals?.bytes ?? 0 > 0)

            // Changes after the backup must not be in the restore.
            try PG.sql(db, "INSERT INTO sales.orders (customer) VALUES ('after the backup')")

            var options = DatabaseRestoreOptions(into: restored)
            options.create = true
            let result = try await DatabaseRestorer(repository: repo, snapshot: snapshot).restore(options)
            #expect(result.bytes == entry.dumpBytes)
            let after = try PG.fingerprint(restored)
            #expect(after == before)
            #expect(try PG.value(restored, "SELECT body FROM \"Ünï \"\"quoted\"\" schema\".\"Texte mit Ümlauten\" WHERE id = 2") == "Grüße, Ωμέγα, привет, שלום, 🐘")
            let lo = try PG.value(restored, "SELECT encode(lo_get(content), 'hex') FROM documents WHERE id = 1") ?? ""
            #expect(lo.count == loBytes.count * 2 && lo.hasPrefix(loBytes.prefix(8).map { String(format: "%02x", $0) }.joined()))
            #expect(try PG.value(restored, "SELECT nextval('sales.orders_id_seq')") == "5001")

            // Single-table restore: damage two tables of the original, restore just them (two
            // schemas: one pg_restore run each), and check that a later change elsewhere survives.
            try PG.sql(db, """
                DELETE FROM sales.orders WHERE id % 2 = 0;
                UPDATE "Ünï ""quoted"" schema"."Texte mit Ümlauten" SET body = 'damaged';
                INSERT INTO public.documents VALUES (4, 'kept', NULL);
                """)
            var single = DatabaseRestoreOptions(into: db)
            single.tables = ["sales.orders", "Ünï \"quoted\" schema.Texte mit Ümlauten"]
            single.clean = true
            _ = try await DatabaseRestorer(repository: repo, snapshot: snapshot).restore(single)
            #expect(try PG.value(db, "SELECT count(*) FROM sales.orders") == "5000")
            #expect(try PG.value(db, "SELECT count(*) FROM \"Ünï \"\"quoted\"\" schema\".\"Texte mit Ümlauten\" WHERE body = 'damaged'") == "0")
            #expect(try PG.value(db, "SELECT name FROM public.documents WHERE id = 4") == "kept")
            #expect(try PG.value(db, "SELECT count(*) FROM big.events") == "1000000")

            // A table that is not in the dump is an error (pg_restore itself would restore nothing and succeed).
            var bad = DatabaseRestoreOptions(into: restored)
            bad.tables = ["public.no_such_table"]
            bad.clean = true
            do {
                _ = try await DatabaseRestorer(repository: repo, snapshot: snapshot).restore(bad)
                Issue.record("restoring a table that is not in the dump succeeded")
            } catch let e as KuraError {
                #expect(e.message.contains("no_such_table") && e.hint?.contains("sales.orders") == true, "\(e)")
            }
        }
    }

    /// Plain SQL dumps (pg_dump -Fp) through the command line: restored with psql ON_ERROR_STOP;
    /// single tables are refused with a clear message; --create refuses an existing database
    /// unless --clean.
    @Test func plainFormatThroughTheCommandLine() async throws {
        let db = try PG.createDatabase("plain")
        let copy = db + "_copy"
        defer { PG.dropDatabase(db); PG.dropDatabase(copy) }
        try PG.sql(db, """
            CREATE SCHEMA s2; CREATE TABLE s2.t (id serial PRIMARY KEY, v text);
            INSERT INTO s2.t (v) SELECT 'ß' || i FROM generate_series(1, 300) i;
            CREATE TABLE public.lo (id int, o oid); INSERT INTO public.lo VALUES (1, lo_from_bytea(0, 'plain lo'));
            """)
        let before = try PG.fingerprint(db)
        let server = try PG.server()
        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            let backup = try await s.kuraOK(["backup", "--json", "--postgres", server.with(dbname: db).conninfo, "--format", "plain"]).jsonObject()
            #expect((backup["paths"] as? [String])?.contains("/postgres/\(db).sql") == true)
            let r = try await s.kuraOK(["restore-db", "latest:\(db)", "--into", copy, "--create", "--json"]).jsonObject()
            #expect((r["result"] as? [String: Any])?["format"] as? String == "plain")
            #expect(try PG.fingerprint(copy) == before)

            let again = try await s.kura(["restore-db", "latest:\(db)", "--into", copy, "--create"])
            #expect(again.status == 1 && again.err.contains("exists") && again.err.contains("--clean"), "\(again)")
            try await s.kuraOK(["restore-db", "latest:\(db)", "--into", copy, "--create", "--clean", "-q"])
            #expect(try PG.fingerprint(copy) == before)

            let table = try await s.kura(["restore-db", "latest:\(db)", "--into", copy, "--table", "s2.t"])
            #expect(table.status == 1 && table.err.contains("plain SQL"), "\(table)")
            // The snapshot holds one database, so SNAPSHOT alone names it; a wrong name lists the right one.
            let wrong = try await s.kura(["restore-db", "latest:nope", "--into", copy])
            #expect(wrong.status == 1 && wrong.err.contains(db), "\(wrong)")
        }
    }
}
