import Foundation
import KuraArchiver
import KuraRepository

/// pg_dump's output format in the store.
public enum DumpFormat: String, Codable, Sendable, CaseIterable {
    /// `pg_dump -Fc -Z0`: uncompressed (the store compresses after dedup), restorable one table at a time.
    case custom
    /// `pg_dump -Fp`: SQL, restored whole with psql.
    case plain

    public var fileExtension: String { self == .custom ? "dump" : "sql" }
}

public struct PostgresBackupOptions: Sendable {
    /// Where to connect. Its dbname is the database to back up when no other is named.
    public var dsn: PostgresDSN
    /// Databases to back up (empty: the DSN's dbname, unless `allDatabases`).
    public var databases: [String] = []
    /// Every database that is not a template and accepts connections.
    public var allDatabases = false
    public var format: DumpFormat = .custom
    /// Count every table's rows exactly (in the dump's snapshot). Off for very large databases.
    public var rowCounts = true
    /// Also hash every table's rows (see ``Catalog/hash(_:_:)``) for `verify-restore --deep`.
    public var rowHashes = false
    /// Store `pg_dumpall --globals-only` (roles, tablespaces) as /postgres/globals.sql.
    public var globals = true
    public var tools = PostgresTools()
    /// How long the backup waits for a table lock (row counts, pg_dump's own locks) before it fails
    /// and names the session that holds it: a nightly run never hangs behind a migration.
    public var lockTimeoutSeconds: Double = 60

    public init(dsn: PostgresDSN) { self.dsn = dsn }
}

public struct PostgresBackupResult: Sendable {
    public var backup: BackupResult
    public var manifest: PostgresManifest
}

/// Logical backups: for each database, a REPEATABLE READ READ ONLY transaction exports its snapshot;
/// the row counts are read in that transaction, then `pg_dump --snapshot=…` streams the database
/// as it was at that instant, straight into the chunker. Every dump, the globals and the manifest go
/// into one snapshot (source "postgres"); a failing pg_dump saves none.
///
/// The exporting transactions are opened (and the counts read) before the first dump starts and stay
/// open until the last dump ends: an exported snapshot can be imported only while its transaction is
/// open, and `Archiver.runStreams` takes its entries up front. They hold no locks beyond
/// ACCESS SHARE on what they read, but, like pg_dump itself, keep VACUUM from removing rows that
/// are newer than the snapshot while the backup runs.
public struct PostgresBackup: Sendable {
    public let options: PostgresBackupOptions

    public init(options: PostgresBackupOptions) { self.options = options }

    /// The file name of a database's dump: the name with '%' and '/' (and a leading '.') escaped.
    public static func fileName(for database: String, format: DumpFormat) -> String {
        var name = database.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
        if name.hasPrefix(".") { name = "%2E" + name.dropFirst() }
        if name == "globals" && format == .plain { name = "%67lobals" }  // not /postgres/globals.sql
        return name + "." + format.fileExtension
    }

    public func run(archiver: Archiver, log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> PostgresBackupResult {
        try await archiver.repository.withLock(.shared) { _ in try await runLocked(archiver: archiver, log: log) }
    }

    private func runLocked(archiver: Archiver, log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> PostgresBackupResult {
        let tools = options.tools
        let base = options.dsn
        let control = try PostgresConnection(base.with(dbname: base.dbname ?? "postgres"))
        defer { control.close() }
        let serverVersion = control.serverVersion
        let pgDump = try await tools.requireCompatible("pg_dump", serverVersion: serverVersion)
        let pgDumpPath = try tools.path("pg_dump")

        // Which databases.
        let available = try Catalog.databases(control)
        var selected: [String]
        if options.allDatabases {
            guard options.databases.isEmpty else { throw KuraError(.invalidArgument, "--all-databases and --database exclude each other") }
            selected = available
        } else if !options.databases.isEmpty {
            selected = []
            for d in options.databases where !selected.contains(d) { selected.append(d) }
        } else if let d = base.dbname {
            selected = [d]
        } else {
            throw KuraError(.invalidArgument, "which databases? the connection string names none",
                            hint: "add --database NAME (repeatable), --all-databases, or dbname=NAME to the connection string; the server has: \(available.joined(separator: ", "))")
        }
        for d in selected where !available.contains(d) {
            throw KuraError(.notFound, "database '\(d)' does not exist on \(control.dsn.withoutPassword.with(dbname: d).display) (or does not accept connections)",
                            hint: "it has: \(available.joined(separator: ", "))")
        }
        guard !selected.isEmpty else { throw KuraError(.notFound, "the server has no database to back up") }

        let server = PostgresManifest.Server(host: control.host, port: control.port, user: control.user,
                                             version: PostgresVersion.display(serverVersion), versionNumber: serverVersion)
        let started = Date()

        // One exporting session per database, kept open until every dump has ended.
        var sessions: [PostgresConnection] = []
        func closeSessions() {
            for s in sessions { _ = try? s.query("ROLLBACK"); s.close() }
            sessions.removeAll()
        }
        var databases: [PostgresManifest.Database] = []
        var entries: [StreamEntry] = []
        do {
            if options.globals {
                let pgDumpall = try tools.path("pg_dumpall")
                try await tools.requireCompatible("pg_dumpall", serverVersion: serverVersion)
                let superuser = try control.value("SELECT current_setting('is_superuser')") == "on"
                // Without superuser rights pg_authid is unreadable; roles are then dumped without passwords.
                var argv = [pgDumpall, "--globals-only", "--no-password"]
                if !superuser && serverVersion >= 100000 { argv.append("--no-role-passwords") }
                argv += ["-d", base.with(dbname: base.dbname ?? "postgres").childConninfo]
                entries.append(StreamEntry(path: ["postgres", "globals.sql"], content: .command(argv, environment: base.childEnvironment)))
            }
            var names: Set<String> = ["globals.sql", "manifest.json"]
            for name in selected {
                let dsn = base.with(dbname: name)
                let session = try PostgresConnection(dsn)
                sessions.append(session)
                try Catalog.prepare(session)
                if serverVersion >= 90600 { try session.query("SET idle_in_transaction_session_timeout = 0") }
                try session.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try session.query("SET LOCAL lock_timeout = '\(Int(options.lockTimeoutSeconds * 1000))ms'")
                guard let snapshotID = try session.value("SELECT pg_catalog.pg_export_snapshot()") else {
                    throw KuraError(.fatal, "pg_export_snapshot() returned nothing on \(dsn.display)")
                }
                let info = try session.query("""
                    SELECT pg_catalog.pg_database_size(d.oid), pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype
                    FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()
                    """).first ?? []
                let t0 = Date()
                let tables: [PostgresManifest.Table]
                do { tables = try Catalog.measure(session, counts: options.rowCounts, hashes: options.rowHashes) } catch let e as Catalog.LockTimeout {
                    throw LockHolder.describe(e, database: dsn, waited: options.lockTimeoutSeconds)
                }
                let countSeconds = Date().timeIntervalSince(t0)
                let file = PostgresBackup.fileName(for: name, format: options.format)
                guard names.insert(file).inserted else { throw KuraError(.invalidArgument, "database '\(name)' is named twice") }
                databases.append(PostgresManifest.Database(
                    name: name, path: "/postgres/" + file, format: options.format.rawValue,
                    sizeBytes: Int64(info.first.flatMap { $0 } ?? "") ?? 0,
                    encoding: (info.count > 1 ? info[1] : nil) ?? "UTF8", collate: (info.count > 2 ? info[2] : nil) ?? "",
                    ctype: (info.count > 3 ? info[3] : nil) ?? "", exportedSnapshot: snapshotID, tables: tables,
                    countSeconds: countSeconds, dumpBytes: 0, dumpSeconds: 0))
                let rows = tables.compactMap(\.rows).reduce(0, +)
                log("\(name): \(tables.count) tables\(options.rowCounts ? ", \(rows) rows" : ""), \(info.first.flatMap { $0 } ?? "?") bytes on disk, snapshot \(snapshotID)")
                var argv = [pgDumpPath, "--snapshot=\(snapshotID)", "--no-password", "--lock-wait-timeout=\(Int(options.lockTimeoutSeconds * 1000))"]
                argv += options.format == .custom ? ["--format=custom", "--compress=0"] : ["--format=plain"]
                argv += ["-d", dsn.childConninfo]
                entries.append(StreamEntry(path: ["postgres", file], content: .command(argv, environment: dsn.childEnvironment)))
            }
            let manifest = PostgresManifest(created: Timestamp.format(started), server: server, pgDump: pgDump.text,
                                            rowCounts: options.rowCounts, rowHashes: options.rowHashes, globals: nil, databases: databases)
            let finished = ManifestBox()
            entries.append(StreamEntry(path: ["postgres", "manifest.json"], content: .deferred({ earlier in
                var m = manifest
                for o in earlier {
                    let path = "/" + o.path.joined(separator: "/")
                    if path == "/postgres/globals.sql" { m.globals = .init(path: path, bytes: o.bytes, seconds: o.seconds) }
                    if let i = m.databases.firstIndex(where: { $0.path == path }) {
                        m.databases[i].dumpBytes = o.bytes
                        m.databases[i].dumpSeconds = o.seconds
                    }
                }
                finished.set(m)
                return try ManifestCoding.encode(m)
            })))
            let (result, _) = try await archiver.runStreams(entries, source: "postgres")
            closeSessions()
            guard let m = finished.get() else { throw KuraError(.fatal, "internal error: the manifest was not written") }
            return PostgresBackupResult(backup: result, manifest: m)
        } catch {
            closeSessions()
            throw error
        }
    }
}

/// Hands the finished manifest out of the deferred entry.
final class ManifestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: PostgresManifest?
    func set(_ m: PostgresManifest) { lock.withLock { value = m } }
    func get() -> PostgresManifest? { lock.withLock { value } }
}
