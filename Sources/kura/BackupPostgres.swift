import ArgumentParser
import Foundation
import KuraArchiver
import KuraOperations
import KuraPostgres
import KuraRepository

extension DumpFormat: ExpressibleByArgument {}

/// `kura backup --postgres DSN …` and `--postgres-physical DSN` (an option group of `backup`).
struct PostgresBackupArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Back up PostgreSQL databases with pg_dump, consistently (libpq connection string or postgresql:// URI; keep the password in PGPASSWORD or ~/.pgpass).", valueName: "dsn"))
    var postgres: String?
    @Flag(name: .long, help: "With --postgres: every database that is not a template.")
    var allDatabases = false
    @Option(name: .long, help: ArgumentHelp("With --postgres: this database (repeatable; default: the connection string's dbname).", valueName: "name"))
    var database: [String] = []
    @Option(name: .long, help: ArgumentHelp("With --postgres: custom (pg_dump -Fc -Z0, restorable by table) or plain (SQL).", valueName: "format"))
    var format: DumpFormat = .custom
    @Flag(name: .long, help: "With --postgres: do not count every table's rows (for very large databases; verify-restore then checks less).")
    var noRowCounts = false
    @Flag(name: .long, help: "With --postgres: also record a hash of every table's rows, for `verify-restore --deep` (reads all data once more).")
    var deepVerifyData = false
    @Option(name: .long, help: ArgumentHelp("With --postgres: wait at most this long for a table lock, then fail naming the session that holds it (e.g. 60s, 5m).", valueName: "duration"))
    var lockTimeout: String = "60s"
    @Option(name: .long, help: ArgumentHelp("Back up the whole PostgreSQL cluster with pg_basebackup (physical; restore with restore-physical).", valueName: "dsn"))
    var postgresPhysical: String?

    var isRequested: Bool { postgres != nil || postgresPhysical != nil }

    /// A duration option (`60`, `90s`, `5m`, `1h30m`) in seconds; a malformed one is a usage error.
    static func seconds(_ text: String, option: String) throws -> Double {
        guard let s = ConfigurationParser.seconds(text), s > 0 else {
            throw KuraError(.usage, "\(option) \(text) is not a duration", hint: "e.g. 60s, 5m, 1h30m")
        }
        return s
    }

    /// Rejects PostgreSQL options given without --postgres.
    func validateAlone() throws {
        guard postgres == nil else { return }
        if allDatabases || !database.isEmpty || format != .custom || noRowCounts || deepVerifyData {
            throw KuraError(.invalidArgument, "--all-databases, --database, --format, --no-row-counts and --deep-verify-data go with --postgres DSN")
        }
    }

    /// Runs the PostgreSQL backup; prints what it did (unless quiet or JSON) before the usual report.
    func run(archiver: Archiver, paths: [String], quiet: Bool) async throws -> BackupResult {
        guard paths.isEmpty else {
            throw KuraError(.invalidArgument, "--postgres and --postgres-physical back up a server, not paths", hint: "run one backup for the paths and another for the database")
        }
        guard postgres == nil || postgresPhysical == nil else {
            throw KuraError(.invalidArgument, "--postgres and --postgres-physical make separate snapshots; run them one at a time")
        }
        try validateAlone()
        let say: @Sendable (String) -> Void = { line in if !quiet { Terminal.printError("postgres: " + line) } }
        if let physical = postgresPhysical {
            let r = try await PhysicalBackup(dsn: try PostgresDSN(physical)).run(archiver: archiver)
            say("base backup of PostgreSQL \(r.manifest.server.version) at \(r.manifest.server.host):\(r.manifest.server.port): \(Terminal.bytes(r.manifest.bytes)) in \(String(format: "%.1f", r.manifest.seconds)) s")
            return r.backup
        }
        var options = PostgresBackupOptions(dsn: try PostgresDSN(postgres ?? ""))
        options.databases = database
        options.allDatabases = allDatabases
        options.format = format
        options.rowCounts = !noRowCounts
        options.rowHashes = deepVerifyData
        options.lockTimeoutSeconds = try Self.seconds(lockTimeout, option: "--lock-timeout")
        let r = try await PostgresBackup(options: options).run(archiver: archiver, log: say)
        for db in r.manifest.databases {
            say("\(db.name) → \(db.path): \(Terminal.bytes(db.dumpBytes)) in \(String(format: "%.1f", db.dumpSeconds)) s")
        }
        return r.backup
    }
}

/// The newest snapshot whose source is `source` (for commands whose SNAPSHOT defaults to "latest").
func latestSnapshot(_ repo: Repository, reference: String?, source: String) async throws -> Snapshot {
    if let reference, reference != "latest" { return try await repo.findSnapshot(reference) }
    guard let s = try await repo.listSnapshots().filter({ $0.source == source }).max(by: { $0.date < $1.date }) else {
        throw KuraError(.notFound, "the repository has no snapshot with source '\(source)'",
                        hint: source == "postgres" ? "make one with `kura backup --postgres DSN`" : "make one with `kura backup --postgres-physical DSN`")
    }
    return s
}
