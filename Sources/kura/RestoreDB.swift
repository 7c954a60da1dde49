import ArgumentParser
import Foundation
import KuraPostgres
import KuraRepository

struct RestoreDB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-db",
        abstract: "Restore a PostgreSQL database (or some tables) from a `backup --postgres` snapshot.",
        discussion: """
        The dump streams from the repository into pg_restore --exit-on-error (custom format) or
        psql -v ON_ERROR_STOP=1 (plain SQL): no temporary file, except with --jobs (pg_restore -j needs
        a seekable file: the dump is copied to a 0600 file in --temp-dir, removed afterwards).
        The server is the one recorded in the snapshot (host, port, user; the password comes from
        PGPASSWORD, PGPASSFILE or ~/.pgpass) unless --postgres names another.
          kura restore-db latest:app --into app_restored --create
          kura restore-db latest:app --into app --table public.orders --clean
          kura restore-db 1a2b3c4d:app --into app --create --clean --globals --postgres 'host=db2 user=postgres'
        SNAPSHOT defaults to the newest PostgreSQL snapshot when given as `latest`; DB may be left out
        when the snapshot holds one database.
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SNAPSHOT[:DB]") var source: String
    @Option(name: .long, help: ArgumentHelp("Database to restore into.", valueName: "name")) var into: String
    @Flag(name: .long, help: "Create the database first (from template0, with the recorded encoding and locale).") var create = false
    @Flag(name: .long, help: "With --create: drop the database first if it exists. Without: drop each restored object before recreating it.") var clean = false
    @Option(name: .long, help: ArgumentHelp("Restore only this table (repeatable): TABLE or SCHEMA.TABLE. Brings what the table needs: its schema (if missing), owned sequences with their values, defaults, indexes, constraints, triggers, comments and grants; a foreign key to a table not restored is left out with a warning.", valueName: "table")) var table: [String] = []
    @Flag(name: .long, help: "With --table: also restore the tables that its foreign keys refer to.") var withDependencies = false
    @Option(name: .long, help: ArgumentHelp("Restore only this schema (and look up unqualified --table names in it).", valueName: "schema")) var schema: String?
    @Option(name: .long, help: ArgumentHelp("Restore to this server instead of the recorded one (libpq connection string).", valueName: "dsn")) var postgres: String?
    @Flag(name: .long, help: "Also apply the roles and tablespaces (pg_dumpall --globals-only) first; existing roles give errors that are reported and skipped.") var globals = false
    @Option(name: [.customShort("j"), .long], help: ArgumentHelp("Parallel pg_restore jobs (copies the dump to a temporary file first).", valueName: "n")) var jobs = 1
    @Option(name: .long, help: ArgumentHelp("Folder for the temporary copy --jobs needs (default $TMPDIR or /tmp).", valueName: "dir")) var tempDir: String?

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            guard jobs >= 1 else { throw KuraError(.invalidArgument, "--jobs must be at least 1") }
            let repo = try await global.openRepository()
            let (ref, db) = source.firstIndex(of: ":").map { (String(source[..<$0]), String(source[source.index(after: $0)...])) } ?? (source, "")
            let snapshot = try await latestSnapshot(repo, reference: ref, source: "postgres")
            var options = DatabaseRestoreOptions(into: into)
            options.database = db.isEmpty ? nil : db
            options.create = create
            options.clean = clean
            options.tables = table
            options.schema = schema
            options.withDependencies = withDependencies
            options.dsn = try postgres.map { try PostgresDSN($0) }
            options.globals = globals
            options.jobs = jobs
            options.temporaryDirectory = tempDir
            let quiet = global.quiet
            let result = try await DatabaseRestorer(repository: repo, snapshot: snapshot).restore(options, warn: { w in
                if !quiet { Terminal.printError("kura: warning: \(w)") }
            })
            if global.json {
                struct Out: Encodable { var snapshot: String; var result: DatabaseRestoreResult }
                try Terminal.json(Out(snapshot: snapshot.id?.hex ?? "", result: result))
            } else if !global.quiet {
                let what = result.tables.isEmpty ? "database '\(result.database)'" : "\(result.tables.joined(separator: ", ")) of '\(result.database)'"
                print("restored \(what) from snapshot \(snapshot.id?.short ?? "") into '\(result.into)' on \(result.server): \(Terminal.bytes(result.bytes)) (\(result.format)) in \(String(format: "%.1f", result.seconds)) s")
            }
            return 0
        }
    }
}
