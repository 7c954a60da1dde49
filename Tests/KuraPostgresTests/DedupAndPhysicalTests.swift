import Foundation
import KuraPostgres
import KuraRepository
import Testing
import KuraTestSupport

extension PostgresTests {
    /// Two "daily" dumps with a small change between them (1,000 new orders, 50 recent ones
    /// edited, 10 deleted): the second stores a small fraction of the first (default chunker, 1 MiB
    /// average chunks). The numbers are printed; docs/benchmarks.md has a larger run
    /// (Benchmarks/postgres/daily-dedup.sh).
    @Test func dailyDumpsDedup() async throws {
        let db = try PG.createDatabase("daily")
        defer { PG.dropDatabase(db) }
        try PG.sql(db, """
            CREATE TABLE orders (id bigserial PRIMARY KEY, customer text, items jsonb, total numeric(12,2), placed timestamptz);
            INSERT INTO orders (customer, items, total, placed)
              SELECT 'customer ' || (i % 5000), jsonb_build_object('sku', md5(i::text), 'qty', i % 7, 'note', md5((i * 31)::text)),
                     (i % 1000) * 1.1, '2026-01-01'::timestamptz + i * interval '10 seconds'
              FROM generate_series(1, 400000) i;
            CREATE TABLE customers AS SELECT i AS id, 'customer ' || i AS name, md5(i::text) AS email FROM generate_series(1, 5000) i;
            """)
        try await withScratch { s in
            let repo = try await s.openRepository()
            let day1 = try await backupPostgres(repo, databases: [db], tags: ["day1"])
            try PG.sql(db, """
                INSERT INTO orders (customer, items, total, placed)
                  SELECT 'customer ' || i, jsonb_build_object('sku', md5(i::text), 'qty', 1), 9.99, now() FROM generate_series(1, 1000) i;
                UPDATE orders SET total = total + 1 WHERE id BETWEEN 399900 AND 399949;
                DELETE FROM orders WHERE id BETWEEN 399950 AND 399959;
                """)
            let day2 = try await backupPostgres(repo, databases: [db], tags: ["day2"])
            let s1 = try #require(day1.backup.snapshot.summary), s2 = try #require(day2.backup.snapshot.summary)
            let dump1 = day1.manifest.databases[0].dumpBytes, dump2 = day2.manifest.databases[0].dumpBytes
            print("postgres daily dedup: day 1 dump \(dump1) bytes, stored \(s1.bytesStored) bytes; day 2 dump \(dump2) bytes, stored \(s2.bytesStored) bytes (\(String(format: "%.1f", 100 * Double(s2.bytesStored) / Double(max(1, s1.bytesStored))))% of day 1)")
            #expect(dump1 > 50_000_000)
            #expect(s2.bytesStored * 5 < s1.bytesStored, "day 2 stored \(s2.bytesStored) bytes, day 1 \(s1.bytesStored)")
            #expect(day2.manifest.databases[0].tables.first { $0.name == "orders" }?.rows == 400_990)
        }
    }

    /// `backup --postgres-physical` (pg_basebackup into the store), `restore-physical` (KuraTar, no
    /// external tar) into a new folder, `pg_ctl start` on it as the server's user: the data is what
    /// it was at backup time.
    @Test func physicalBackupRestoresAndStarts() async throws {
        let db = try PG.createDatabase("physical")
        defer { PG.dropDatabase(db) }
        try PG.sql(db, """
            CREATE TABLE t (id int PRIMARY KEY, v text);
            INSERT INTO t SELECT i, 'ψ ' || md5(i::text) FROM generate_series(1, 20000) i;
            CREATE SEQUENCE seq; SELECT setval('seq', 77);
            SELECT lo_from_bytea(0, 'physical lo');
            """)
        let expected = try PG.fingerprint(db)
        let server = try PG.server()
        let target = PG.folder + "/physical-\(UUID().uuidString.prefix(8))"
        let socket = PG.folder + "/sock-\(UUID().uuidString.prefix(8))"
        let pgctl = try PG.bindir() + "/pg_ctl"
        defer {
            _ = try? FileManager.default.removeItem(atPath: target)
            _ = try? FileManager.default.removeItem(atPath: socket)
        }
        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            let b = try await s.kuraOK(["backup", "--json", "--postgres-physical", server.conninfo, "--tag", "weekly"]).jsonObject()
            #expect((b["paths"] as? [String])?.sorted() == ["/postgres-physical/base.tar", "/postgres-physical/manifest.json"])
            try PG.sql(db, "INSERT INTO t VALUES (999999, 'after the backup')")

            let r = try await s.kuraOK(["restore-physical", "latest", "--target", target, "--verify", "--json"]).jsonObject()
            let result = try #require(r["result"] as? [String: Any])
            #expect((result["files"] as? Int ?? 0) > 100)
            #expect(r["verified"] as? Bool == true)
            var st = stat()
            #expect(stat(target, &st) == 0 && st.st_mode & 0o777 == 0o700)
            #expect(FileManager.default.fileExists(atPath: target + "/PG_VERSION") && FileManager.default.fileExists(atPath: target + "/backup_label"))
            #expect(!FileManager.default.fileExists(atPath: target + "/postmaster.pid"))
            // Not into a folder that has something in it.
            let again = try await s.kura(["restore-physical", "latest", "--target", target])
            #expect(again.status == 1 && again.err.contains("not empty"), "\(again)")

            try FileManager.default.createDirectory(atPath: socket, withIntermediateDirectories: true)
            if geteuid() == 0, let pw = getpwnam("postgres") { chown(socket, pw.pointee.pw_uid, pw.pointee.pw_gid) }
            let start = try await asServerOwner(pgctl, ["-D", target, "-l", target + ".log", "-w", "-t", "60",
                                                       "-o", "-c listen_addresses='' -k \(socket)", "start"])
            #expect(start.status == 0, "\(start)\n\((try? String(contentsOfFile: target + ".log", encoding: .utf8)) ?? "")")
            defer { unlink(target + ".log") }
            // Compare, then stop the server whatever the comparison did.
            let compared = Result { () throws -> [String: String] in
                let restoredServer = PostgresDSN(settings: ["host": socket, "port": server.port ?? "5432", "user": server.user ?? "postgres"])
                let c = try PostgresConnection(restoredServer.with(dbname: db))
                defer { c.close() }
                try Catalog.prepare(c)
                var got: [String: String] = [:]
                for t in try Catalog.tables(c) { got["table \(t.display)"] = "\(try Catalog.count(c, t)) \(try Catalog.hash(c, t))" }
                for row in try c.query("SELECT schemaname || '.' || sequencename, coalesce(last_value::text, 'null') FROM pg_sequences") { got["sequence \(row[0] ?? "")"] = row[1] ?? "" }
                for row in try c.query("SELECT oid::text, md5(lo_get(oid)) FROM pg_largeobject_metadata") { got["large object \(row[0] ?? "")"] = row[1] ?? "" }
                return got
            }
            let stop = try await asServerOwner(pgctl, ["-D", target, "-m", "fast", "-w", "stop"])
            #expect(stop.status == 0, "\(stop)")
            #expect(try compared.get() == expected)
        }
    }
}

@Suite struct LiveDataDirectoryTests {
    /// A folder with PG_VERSION and postmaster.pid is found at, above and below the backed-up path,
    /// and `kura backup` warns loudly (naming --postgres and --postgres-physical) but backs up.
    @Test func warnsAboutLiveDataDirectories() async throws {
        try await withScratch { s in
            let data = s.root + "/volumes/pg/_data"
            try FileManager.default.createDirectory(atPath: data + "/base/1", withIntermediateDirectories: true)
            try Data("15\n".utf8).write(to: URL(fileURLWithPath: data + "/PG_VERSION"))
            #expect(LiveDataDirectory.find(in: [s.root + "/volumes"]).isEmpty, "no postmaster.pid: not running")
            try Data("12345\n".utf8).write(to: URL(fileURLWithPath: data + "/postmaster.pid"))
            #expect(LiveDataDirectory.find(in: [s.root + "/volumes"]) == [data])
            #expect(LiveDataDirectory.find(in: [data + "/base"]) == [data])
            #expect(LiveDataDirectory.find(in: [s.root + "/volumes"], excludes: ["_data"]).isEmpty)
            #expect(LiveDataDirectory.find(in: [s.root + "/volumes"], excludes: [s.root + "/volumes/pg"]).isEmpty)

            try await s.kuraOK(["init", "-q"])
            let r = try await s.kuraOK(["backup", "-q", s.root + "/volumes"])
            #expect(r.err.contains("WARNING: \(data) is a live PostgreSQL data directory"), "\(r)")
            #expect(r.err.contains("--postgres DSN") && r.err.contains("--postgres-physical DSN"), "\(r)")
            let quiet = try await s.kuraOK(["backup", "-q", s.root + "/volumes", "--exclude", "_data"])
            #expect(!quiet.err.contains("WARNING"), "\(quiet)")
        }
    }
}

@Suite struct ConnectionStringTests {
    @Test func parsesKeyValueAndURIFormsAndHidesThePassword() throws {
        let kv = try PostgresDSN("host=db.example port=5433 user=backup dbname=app password='it''s s3cret'".replacingOccurrences(of: "''", with: "\\'"))
        #expect(kv.host == "db.example" && kv.port == "5433" && kv.user == "backup" && kv.dbname == "app")
        #expect(kv.hasPassword && kv.childEnvironment == ["PGPASSWORD": "it's s3cret"])
        #expect(!kv.display.contains("s3cret") && !kv.childConninfo.contains("s3cret"))
        #expect(kv.display == "backup@db.example:5433/app")
        // The quoted form parses back to the same settings.
        #expect(try PostgresDSN(kv.conninfo) == kv)
        #expect(try PostgresDSN(kv.with(dbname: "we'ird \\ name").conninfo).dbname == "we'ird \\ name")

        let uri = try PostgresDSN("postgresql://backup:p%40ss@db:6543/shop?sslmode=disable")
        #expect(uri.host == "db" && uri.port == "6543" && uri.dbname == "shop" && uri.settings["sslmode"] == "disable")
        #expect(uri.childEnvironment["PGPASSWORD"] == "p@ss" && !uri.childConninfo.contains("p@ss"))

        do {
            _ = try PostgresDSN("host=db password secretword")
            Issue.record("a malformed string parsed")
        } catch let e as KuraError {
            #expect(e.message.contains("invalid PostgreSQL connection string"))
            #expect(!e.message.contains("secretword"), "\(e.message)")
        }
    }

    @Test func versionsFileNamesAndTableSelections() {
        #expect(PostgresVersion.parse("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == 150018)
        #expect(PostgresVersion.parse("9.6.24") == 90624)
        #expect(PostgresVersion.parse("17beta2") == 170000)
        #expect(PostgresVersion.majorKey(150018) > PostgresVersion.majorKey(140999))
        #expect(PostgresVersion.majorKey(100001) > PostgresVersion.majorKey(90624))
        #expect(PostgresVersion.major(90624) == "9.6" && PostgresVersion.display(150018) == "15.18")

        #expect(PostgresBackup.fileName(for: "app", format: .custom) == "app.dump")
        #expect(PostgresBackup.fileName(for: "a/b%c", format: .plain) == "a%2Fb%25c.sql")
        #expect(PostgresBackup.fileName(for: "..", format: .custom) == "%2E..dump")
        #expect(PostgresBackup.fileName(for: "globals", format: .plain) != "globals.sql")

        #expect(DatabaseRestorer.selections(tables: [], schema: nil) == [[]])
        #expect(DatabaseRestorer.selections(tables: [], schema: "s") == [["--schema=s"]])
        #expect(DatabaseRestorer.selections(tables: ["a.t", "b.u", "a.v"], schema: nil) == [["--schema=a", "--table=t", "--table=v"], ["--schema=b", "--table=u"]])
        #expect(DatabaseRestorer.selections(tables: ["t"], schema: "x") == [["--schema=x", "--table=t"]])
        #expect(DatabaseRestorer.selections(tables: ["t"], schema: nil) == [["--table=t"]])
    }
}
