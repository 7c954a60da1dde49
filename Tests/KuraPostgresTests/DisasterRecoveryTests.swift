import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension PostgresTests {
    /// docs/disaster-recovery.md, run step by step: the production host backs a volume and a database up
    /// into its local repository and copies them to S3; then the host, its repository, the volume and
    /// the database are gone. A bare host with an empty HOME, no cache and no configuration — only the
    /// kura binary on PATH, the PostgreSQL client programs, the password and the bucket's key — lists the
    /// snapshots, restores the volume byte for byte and the database with every row, straight from S3.
    @Test func disasterRecoveryOnABareHostFromS3() async throws {
        let server = try S3TestServer()
        defer { server.stop() }
        let db = "shop"
        PG.dropDatabase(db)
        defer { PG.dropDatabase(db) }
        try PG.sql("postgres", "CREATE DATABASE shop")
        try PG.sql(db, """
            CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
            CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers, total numeric(10,2), placed timestamptz);
            INSERT INTO customers (name) SELECT 'customer ' || i FROM generate_series(1, 500) i;
            INSERT INTO orders (customer, total, placed)
                SELECT 1 + i % 500, (i * 7 % 10000) / 100.0, '2026-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(1, 20000) i;
            """)
        let before = try PG.fingerprint(db)

        try await withScratch { s in
            let bucketLocation = server.location(prefix: "acme/kura")
            let password = "dr-\(UUID().uuidString)"
            let pgServer = try PG.server()

            // The production host: a volume and the database into the local repository, copied to S3.
            let volume = s.root + "/volumes/shop_media/_data"
            try FileManager.default.createDirectory(atPath: volume + "/2026/01", withIntermediateDirectories: true)
            var files: [String: [UInt8]] = [:]
            for i in 0..<12 {
                let rel = "/2026/01/photo-\(i).jpg"
                files[rel] = randomBytes(50_000 + i * 37_000, seed: UInt64(100 + i))
                try RawFS.write(Array((volume + rel).utf8), files[rel]!)
            }
            files["/index.html"] = Array("<h1>shop</h1>\n".utf8)
            try RawFS.write(Array((volume + "/index.html").utf8), files["/index.html"]!)
            var production = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") && !$0.key.hasPrefix("AWS_") }
            production["HOME"] = s.root + "/production-home"
            production["KURA_PASSWORD"] = password
            production["KURA_REPOSITORY"] = s.root + "/backup/kura"
            for (k, v) in S3TestServer.environment { production[k] = v }
            func onProduction(_ args: [String]) async throws {
                let r = try await runTool(KuraBinary.path, args, environment: production)
                try #require(r.status == 0, "\(r)")
            }
            try await onProduction(["init", "-q"])
            try await onProduction(["backup", "-q", volume, "--tag", "source:media"])
            try await onProduction(["backup", "-q", "--postgres", pgServer.conninfo, "--database", db, "--tag", "source:shop-db"])
            try await onProduction(["init", "-q", "--repo", bucketLocation, "--copy-chunker-params-from", s.root + "/backup/kura"])
            try await onProduction(["copy", "-q", "--to", bucketLocation])

            // The disaster: the host, its repository, the volume and the database are gone.
            try FileManager.default.removeItem(atPath: s.root + "/backup")
            try FileManager.default.removeItem(atPath: s.root + "/volumes")
            try FileManager.default.removeItem(atPath: s.root + "/production-home")
            PG.dropDatabase(db)

            // The bare host. Step 1: the binary on PATH (and the PostgreSQL client programs).
            let home = s.root + "/dr-home"
            let bin = s.root + "/dr-bin"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: bin + "/kura", withDestinationPath: KuraBinary.path)
            // Step 2: the bucket's key in ~/.aws/credentials (0600), the region in the environment.
            try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
            try Data("""
                [default]
                aws_access_key_id = \(S3TestServer.accessKey)
                aws_secret_access_key = \(S3TestServer.secretKey)

                """.utf8).write(to: URL(fileURLWithPath: home + "/.aws/credentials"))
            chmod(home + "/.aws/credentials", 0o600)
            // Step 3: the password in a 0600 file; the repository location.
            try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: home + "/kura-password"))
            chmod(home + "/kura-password", 0o600)
            let env = ["HOME": home, "PATH": "\(bin):\(try PG.bindir()):/usr/bin:/bin", "AWS_REGION": "us-east-1",
                       "KURA_PASSWORD_FILE": home + "/kura-password", "KURA_REPOSITORY": bucketLocation]
            func dr(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
                let r = try await runTool("/usr/bin/env", ["kura"] + args, environment: env)
                try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
                return r
            }

            // Step 4: the snapshots.
            let listing = try await dr(["snapshots"])
            let snapshots = try await dr(["snapshots", "--json"]).jsonArray()
            #expect(snapshots.count == 2, "\(listing)")
            let media = try #require(try await dr(["snapshots", "--tag", "source:media", "--json"]).jsonArray().first?["id"] as? String)
            #expect(listing.out.contains(String(media.prefix(8))) && listing.out.contains(volume), "\(listing)")

            // Step 5: the volume, back where it was, byte for byte.
            try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)   // mkdir -p
            try await dr(["restore", String(media.prefix(8)) + ":" + volume, "--target", volume])
            for (rel, bytes) in files {
                #expect(try RawFS.read(Array((volume + rel).utf8)) == bytes, "\(rel)")
            }

            // Step 6: the database into a PostgreSQL server that never saw it (created by the restore).
            try await dr(["restore-db", "latest:\(db)", "--into", db, "--create", "--postgres", pgServer.conninfo])
            #expect(try PG.fingerprint(db) == before, "every table's rows, every sequence")

            // Step 7: check: the row counts the backup recorded, and the repository itself.
            let pg = try #require(try await dr(["snapshots", "--tag", "source:shop-db", "--json"]).jsonArray().first?["id"] as? String)
            let manifest = try await dr(["cat", String(pg.prefix(8)) + ":/postgres/manifest.json"])
            let text = manifest.out
            #expect(text.contains("\"orders\"") && text.contains("20000"), "\(text.prefix(2000))")
            #expect(try PG.value(db, "SELECT count(*) FROM orders") == "20000")
            try await dr(["check", "--read-data"])

            // Nothing but the cache (and the credentials and password put there) appeared in HOME.
            let homeContents = Set(try FileManager.default.contentsOfDirectory(atPath: home))
            #expect(homeContents.isSubset(of: [".aws", "kura-password", ".cache"]), "\(homeContents)")

            // The document walks exactly these commands.
            let doc = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../docs/disaster-recovery.md").standardized.path, encoding: .utf8)
            for command in ["kura snapshots\n", "kura snapshots --tag source:media", "mkdir -p /var/lib/docker/volumes/shop_media/_data", "kura restore ", ":/var/lib/docker/volumes/shop_media/_data --target /var/lib/docker/volumes/shop_media/_data",
                            "kura restore-db latest:shop --into shop --create --postgres", "kura cat ", ":/postgres/manifest.json",
                            "kura check --read-data", "~/.aws/credentials", "chmod 600", "KURA_PASSWORD_FILE", "KURA_REPOSITORY", "AWS_REGION"] {
                #expect(doc.contains(command), "docs/disaster-recovery.md shows \(command)")
            }
        }
    }
}
