import Foundation
import KuraPostgres
import KuraRepository
import Testing
import KuraTestSupport

extension PostgresTests {
    static func makeVerifyDatabase() throws -> String {
        let db = try PG.createDatabase("verify")
        try PG.sql(db, """
            CREATE SCHEMA app;
            CREATE TABLE app.users (id serial PRIMARY KEY, name text, born date, score float8, data bytea);
            INSERT INTO app.users (name, born, score, data)
              SELECT 'user ' || i || ' 蔵', date '1970-01-01' + i, i / 3.0, decode(md5(i::text), 'hex') FROM generate_series(1, 2000) i;
            CREATE TABLE public.events (at timestamptz, what text);
            INSERT INTO public.events SELECT now() - i * interval '1 minute', 'event ' || i FROM generate_series(1, 700) i;
            CREATE TABLE public.empty (x int);
            """)
        return db
    }

    /// verify-restore through the command line: restores into kura_verify_*, compares counts and
    /// row hashes, drops the scratch database, keeps the result as a repository record.
    @Test func verifyRestorePassesAndIsRecorded() async throws {
        let db = try Self.makeVerifyDatabase()
        defer { PG.dropDatabase(db) }
        let server = try PG.server()
        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            try await s.kuraOK(["backup", "-q", "--postgres", server.conninfo, "--database", db, "--deep-verify-data"])
            let before = Set(try PG.databases())
            let r = try await s.kura(["verify-restore", "--deep", "--json"])
            #expect(r.status == 0, "\(r)")
            let out = try r.jsonObject()
            let report = try #require(out["report"] as? [String: Any])
            #expect(report["ok"] as? Bool == true)
            #expect(report["deep"] as? Bool == true)
            let dbs = try #require(report["databases"] as? [[String: Any]])
            #expect(dbs.count == 1 && dbs[0]["dropped"] as? Bool == true)
            let scratch = try #require(dbs[0]["scratchDatabase"] as? String)
            #expect(scratch.hasPrefix("kura_verify_"))
            let tables = try #require(dbs[0]["tables"] as? [[String: Any]])
            #expect(tables.count == 3)
            #expect(tables.allSatisfy { $0["status"] as? String == "ok" })
            #expect(tables.first { $0["name"] as? String == "users" }?["restoredRows"] as? Int == 2000)
            // The scratch database is gone, and nothing else appeared or vanished.
            #expect(Set(try PG.databases()) == before)

            // The record is in the repository.
            let history = try await s.kuraOK(["verify-restore", "--history", "--json"])
            let items = try #require(try JSONSerialization.jsonObject(with: Data(history.out.utf8)) as? [[String: Any]])
            #expect(items.count == 1)
            #expect((items.first?["record"] as? String) == out["record"] as? String)
            #expect(report["source"] as? String == "postgres")
            #expect(((items.first?["report"] as? [String: Any])?["ok"] as? Bool) == true)
            // Human output names each table.
            let text = try await s.kuraOK(["verify-restore"])
            #expect(text.out.contains("verify-restore PASSED") && text.out.contains("app.users"), "\(text)")

            // --source picks the newest snapshot tagged source:NAME (as `kura run` tags them) and
            // records the result under that name, with the fields `kura status` reads.
            try await s.kuraOK(["backup", "-q", "--postgres", server.conninfo, "--database", db, "--tag", "source:nightly"])
            let bySource = try #require(try await s.kuraOK(["verify-restore", "--source", "nightly", "--json"]).jsonObject()["report"] as? [String: Any])
            #expect(bySource["source"] as? String == "nightly" && bySource["ok"] as? Bool == true)
            #expect(bySource["files"] as? Int == 1 && (bySource["bytes"] as? Int ?? 0) > 0 && (bySource["snapshot"] as? String)?.count == 64)
            let unknown = try await s.kura(["verify-restore", "--source", "nope"])
            #expect(unknown.status == 1 && unknown.err.contains("source:nope"), "\(unknown)")

            // --deep on a backup without hashes is refused before anything is restored.
            try await s.kuraOK(["backup", "-q", "--postgres", server.conninfo, "--database", db])
            let noHashes = try await s.kura(["verify-restore", "--deep"])
            #expect(noHashes.status == 1 && noHashes.err.contains("--deep-verify-data"), "\(noHashes)")
        }
    }

    /// Rows deleted from (or changed in) the restored copy make verify-restore fail, table by table;
    /// the scratch database is dropped anyway and the failure is recorded.
    @Test func verifyRestoreFailsWhenTheRestoredCopyDiffers() async throws {
        let db = try Self.makeVerifyDatabase()
        defer { PG.dropDatabase(db) }
        try await withScratch { s in
            let repo = try await s.openRepository()
            let backup = try await backupPostgres(repo, databases: [db], hashes: true)
            let verifier = PostgresRestoreVerifier(repository: repo, snapshot: backup.backup.snapshot)
            let before = Set(try PG.databases())

            // Deleted rows: counts differ.
            var options = VerifyOptions()
            let report = try await verifier.verify(options, beforeCompare: { scratch in
                try scratch.query("DELETE FROM app.users WHERE id <= 10")
            })
            #expect(!report.ok)
            let users = try #require(report.databases.first?.tables.first { $0.name == "users" })
            #expect(users.status == .mismatch && users.expectedRows == 2000 && users.restoredRows == 1990)
            #expect(report.databases.first?.tables.filter { $0.status == .ok }.count == 2)
            #expect(report.databases.first?.dropped == true)
            #expect(Set(try PG.databases()) == before)

            // A changed row with the same count: only --deep sees it.
            options.deep = true
            let deep = try await verifier.verify(options, beforeCompare: { scratch in
                try scratch.query("UPDATE public.events SET what = 'changed' WHERE what = 'event 7'")
            })
            #expect(!deep.ok)
            let events = try #require(deep.databases.first?.tables.first { $0.name == "events" })
            #expect(events.status == .mismatch && events.expectedRows == events.restoredRows && events.expectedHash != events.restoredHash)
            options.deep = false
            let shallow = try await verifier.verify(options, beforeCompare: { scratch in
                try scratch.query("UPDATE public.events SET what = 'changed' WHERE what = 'event 7'")
            })
            #expect(shallow.ok)

            // A dropped table is "missing"; an extra one "unexpected".
            let shape = try await verifier.verify(options, beforeCompare: { scratch in
                try scratch.query("DROP TABLE public.empty; CREATE TABLE public.extra (y int)")
            })
            let statuses = Dictionary(uniqueKeysWithValues: (shape.databases.first?.tables ?? []).map { ($0.name, $0.status) })
            #expect(statuses["empty"] == .missing && statuses["extra"] == .unexpected && !shape.ok)

            // And the untouched restore passes, deep.
            options.deep = true
            #expect(try await verifier.verify(options).ok)
            #expect(Set(try PG.databases()) == before)
        }
    }
}

/// The comparison alone (no server needed).
@Test func verifyComparisonStatuses() {
    typealias T = PostgresManifest.Table
    let recorded = [T(schema: "a", name: "same", rows: 3, hash: "h1"), T(schema: "a", name: "fewer", rows: 5, hash: "h2"),
                    T(schema: "b", name: "gone", rows: 1, hash: "h3"), T(schema: "b", name: "changed", rows: 2, hash: "h4")]
    let restored = [T(schema: "a", name: "same", rows: 3, hash: "h1"), T(schema: "a", name: "fewer", rows: 4, hash: "h2x"),
                    T(schema: "b", name: "changed", rows: 2, hash: "h4x"), T(schema: "c", name: "new", rows: 0, hash: "h5")]
    let deep = PostgresRestoreVerifier.compare(recorded: recorded, restored: restored, countsRecorded: true, deep: true)
    #expect(deep.map(\.status) == [.ok, .mismatch, .missing, .mismatch, .unexpected])
    let shallow = PostgresRestoreVerifier.compare(recorded: recorded, restored: restored, countsRecorded: true, deep: false)
    #expect(shallow.map(\.status) == [.ok, .mismatch, .missing, .ok, .unexpected])
    let unrecorded = PostgresRestoreVerifier.compare(recorded: recorded.map { T(schema: $0.schema, name: $0.name) }, restored: restored, countsRecorded: false, deep: false)
    #expect(unrecorded.map(\.status) == [.unrecorded, .unrecorded, .missing, .unrecorded, .unexpected])
}
