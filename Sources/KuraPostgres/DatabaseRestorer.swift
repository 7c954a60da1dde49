import Foundation
import KuraProcess
import KuraRepository
import KuraRestorer

public struct DatabaseRestoreOptions: Sendable {
    /// The database in the snapshot (nil: the only one).
    public var database: String?
    /// The database to restore into.
    public var into: String
    /// Create `into` first (from template0, with the recorded encoding and locale).
    public var create = false
    /// With `create`: drop `into` first if it exists. Without: pg_restore --clean --if-exists (drop
    /// each object before recreating it).
    public var clean = false
    /// Only these tables (`TABLE` or `SCHEMA.TABLE`; custom-format dumps only).
    public var tables: [String] = []
    /// Only this schema (and the schema of unqualified --table names).
    public var schema: String?
    /// The server; nil means the one recorded in the manifest (host, port and user; the password
    /// comes from PGPASSWORD, PGPASSFILE or ~/.pgpass).
    public var dsn: PostgresDSN?
    /// Also apply /postgres/globals.sql (roles, tablespaces) first.
    public var globals = false
    /// pg_restore -j N. Above 1 pg_restore needs a seekable file, so the dump is first copied into a
    /// temporary file (mode 0600, removed afterwards) in `temporaryDirectory` (default $TMPDIR or /tmp).
    public var jobs = 1
    public var temporaryDirectory: String?
    /// pg_restore --no-owner --no-privileges (verify-restore uses it: roles need not exist).
    public var noOwner = false
    /// With `tables`: also restore the tables their foreign keys refer to (otherwise those foreign
    /// keys are left out, with a warning).
    public var withDependencies = false
    public var tools = PostgresTools()

    public init(into: String) { self.into = into }
}

public struct DatabaseRestoreResult: Sendable, Codable {
    public var database: String
    public var into: String
    public var server: String
    public var format: String
    public var created: Bool
    /// The size of the dump restored from (what pg_restore or psql was given).
    public var bytes: UInt64
    public var seconds: Double
    public var tables: [String]
    public var globals: Bool
    public var warnings: [String]
}

/// Restores one database of a logical PostgreSQL snapshot: the dump is streamed from the store
/// (ContentStreamer) into `pg_restore --exit-on-error` (custom format) or `psql -v ON_ERROR_STOP=1`
/// (plain SQL) on standard input: no temporary file, except for `jobs` > 1.
public struct DatabaseRestorer: Sendable {
    public let repository: Repository
    public let snapshot: Snapshot

    public init(repository: Repository, snapshot: Snapshot) { self.repository = repository; self.snapshot = snapshot }

    public func manifest() async throws -> PostgresManifest {
        try await ManifestCoding.load(PostgresManifest.self, path: PostgresManifest.path,
                                      from: SnapshotBrowser(repository: repository, snapshot: snapshot), what: "a PostgreSQL backup")
    }

    /// The server to restore to: `dsn`, else the one recorded in the manifest.
    public static func server(_ dsn: PostgresDSN?, manifest: PostgresManifest) -> PostgresDSN {
        if let dsn { return dsn }
        return PostgresDSN(settings: ["host": manifest.server.host, "port": manifest.server.port, "user": manifest.server.user])
    }

    func node(at path: String) async throws -> Node {
        let entry = try await SnapshotBrowser(repository: repository, snapshot: snapshot).entry(at: Array(path.utf8))
        guard let node = entry.node, node.type == .file else { throw KuraError(.corrupt, "\(path) in snapshot \(snapshot.id?.short ?? "") is not a file") }
        return node
    }

    /// Groups --table names into pg_restore runs: `-n SCHEMA -t T…` per schema (pg_restore's -n and
    /// -t combine as "these tables in these schemas", so mixed schemas need one run each).
    public static func selections(tables: [String], schema: String?) -> [[String]] {
        if tables.isEmpty { return [schema.map { ["--schema=\($0)"] } ?? []] }
        var groups: [String: [String]] = [:], order: [String] = []
        for t in tables {
            var s = schema ?? "", name = t
            if let dot = t.firstIndex(of: ".") { s = String(t[..<dot]); name = String(t[t.index(after: dot)...]) }
            if groups[s] == nil { order.append(s) }
            groups[s, default: []].append("--table=\(name)")
        }
        return order.map { (s: String) -> [String] in (s.isEmpty ? [] : ["--schema=\(s)"]) + groups[s]! }
    }

    public func restore(_ options: DatabaseRestoreOptions, warn: @escaping @Sendable (String) -> Void = { _ in }) async throws -> DatabaseRestoreResult {
        let started = Date()
        let manifest = try await manifest()
        let db = try manifest.database(named: options.database)
        let format = DumpFormat(rawValue: db.format) ?? .custom
        let server = DatabaseRestorer.server(options.dsn, manifest: manifest)
        let maintenance = server.with(dbname: options.dsn?.dbname ?? "postgres")
        let target = server.with(dbname: options.into)
        let tools = options.tools
        var warnings: [String] = []
        let note: @Sendable (String) -> Void = { warn($0) }

        if format == .plain {
            guard options.tables.isEmpty, options.schema == nil else {
                throw KuraError(.invalidArgument, "'\(db.name)' was dumped as plain SQL, which restores only whole",
                                hint: "back up with --format custom (the default) to restore single tables or schemas")
            }
            guard !options.clean || options.create else {
                throw KuraError(.invalidArgument, "a plain SQL dump cannot --clean an existing database", hint: "use --create --clean to drop and recreate it")
            }
            guard options.jobs <= 1 else { throw KuraError(.invalidArgument, "--jobs needs a custom-format dump") }
        }
        // pg_restore -t restores nothing, successfully, for a name that is not in the dump: check first.
        if !options.tables.isEmpty {
            for t in options.tables {
                let (s, n) = t.firstIndex(of: ".").map { (String(t[..<$0]), String(t[t.index(after: $0)...])) } ?? (options.schema ?? "", t)
                guard db.tables.contains(where: { $0.name == n && (s.isEmpty || $0.schema == s) }) else {
                    throw KuraError(.notFound, "the dump of '\(db.name)' has no table '\(t)'",
                                    hint: "its tables: \(db.tables.prefix(30).map(\.display).joined(separator: ", "))\(db.tables.count > 30 ? ", …" : "") (SCHEMA.TABLE is split at the first dot; names are case-sensitive)")
                }
            }
        }
        let program = format == .custom ? "pg_restore" : "psql"
        let programPath = try tools.path(program)
        if format == .custom {
            let v = try await tools.version("pg_restore")
            if let dumpVersion = PostgresVersion.parse(manifest.pgDump), PostgresVersion.majorKey(v.number) < PostgresVersion.majorKey(dumpVersion) {
                throw KuraError(.invalidArgument, "pg_restore \(v.text) is older than the pg_dump \(manifest.pgDump) that wrote the dump; it cannot read it",
                                hint: "install postgresql-client-\(PostgresVersion.major(dumpVersion)) or newer, or set KURA_PG_BINDIR")
            }
        }

        let admin = try PostgresConnection(maintenance)
        defer { admin.close() }
        let exists = try Catalog.databaseExists(admin, options.into)
        if options.create {
            if exists {
                guard options.clean else {
                    throw KuraError(.alreadyExists, "database '\(options.into)' exists on \(maintenance.withoutPassword.display)",
                                    hint: "add --clean to drop and recreate it, or leave out --create to restore into it")
                }
                try Catalog.dropDatabase(admin, options.into, force: false)
            }
        } else if !exists {
            throw KuraError(.notFound, "database '\(options.into)' does not exist on \(maintenance.withoutPassword.display)", hint: "add --create to create it")
        } else if !options.clean {
            // Restoring over tables that exist fails on the first one: look before touching anything.
            let wanted = db.tables.filter { t in
                if options.tables.isEmpty { return options.schema == nil || t.schema == options.schema }
                return options.tables.contains { sel in
                    let (s, n) = sel.firstIndex(of: ".").map { (String(sel[..<$0]), String(sel[sel.index(after: $0)...])) } ?? (options.schema ?? "", sel)
                    return t.name == n && (s.isEmpty || t.schema == s)
                }
            }
            let into = try PostgresConnection(target)
            let present = Set(try Catalog.tables(into).map(\.display))
            into.close()
            let clashes = wanted.map(\.display).filter(present.contains)
            if !clashes.isEmpty {
                throw KuraError(.alreadyExists, "database '\(options.into)' already has \(clashes.count) of the tables to restore (\(clashes.prefix(8).joined(separator: ", "))\(clashes.count > 8 ? ", …" : "")); nothing was changed",
                                hint: "add --clean to replace them, or restore into a new database: --into NEW_NAME --create")
            }
        }

        var globalsApplied = false
        if options.globals {
            guard let g = manifest.globals else { throw KuraError(.notFound, "the snapshot has no globals.sql (it was taken without globals)") }
            // Roles that exist already make CREATE ROLE fail, so globals run without ON_ERROR_STOP;
            // psql's errors are shown.
            let (_, applied) = try await ContentStreamer(repository: repository).feed(
                try await node(at: g.path), into: [try tools.path("psql"), "-X", "-q", "--no-password", "-d", maintenance.childConninfo, "-f", "-"],
                environment: maintenance.childEnvironment, what: "applying the globals (roles, tablespaces)")
            if applied.stderrText.contains("ERROR") {
                let w = "some globals did not apply (roles that exist already are expected to): see psql's messages above"
                warnings.append(w); note(w)
            }
            globalsApplied = true
        }

        if options.create {
            try Catalog.createDatabase(admin, options.into, like: db) { w in warnings.append(w); note(w) }
        }

        let dump = try await node(at: db.path)
        var bytes: UInt64 = 0
        let streamer = ContentStreamer(repository: repository)
        let what = "restoring '\(db.name)' into '\(options.into)'"
        if format == .plain {
            // One transaction: a failure part-way leaves nothing half-restored.
            bytes = try await rollbackNote(options) {
                try await streamer.feed(dump, into: [programPath, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--no-password", "-d", target.childConninfo, "-f", "-"],
                                        environment: target.childEnvironment, what: what).bytes
            }
        } else {
            var common = [programPath, "--exit-on-error", "--no-password", "-d", target.childConninfo]
            if options.clean && !options.create { common += ["--clean", "--if-exists"] }
            if options.noOwner { common += ["--no-owner", "--no-privileges"] }
            var runs = DatabaseRestorer.selections(tables: options.tables, schema: options.schema)
            // Single tables: what they need, chosen from the dump's table of contents (see TableSelection).
            var listFile: String?
            defer { if let listFile { unlink(listFile) } }
            if !options.tables.isEmpty {
                let (_, _, listing) = try await streamer.feed(dump, into: [programPath, "-l", "-v"], environment: target.childEnvironment,
                                                              what: "reading the table of contents of '\(db.name)'", keepingOutput: true)
                let wanted = options.tables.map { t -> (schema: String?, name: String) in
                    if let dot = t.firstIndex(of: ".") { return (String(t[..<dot]), String(t[t.index(after: dot)...])) }
                    return (options.schema, t)
                }
                let probe = try PostgresConnection(target)
                let choice = TableSelection(listing: String(decoding: listing, as: UTF8.self), knownTables: db.tables.map { ($0.schema, $0.name) })
                    .choose(tables: wanted, withDependencies: options.withDependencies, freshDatabase: options.create, schemaExists: { schema in
                        (try? probe.value("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = $1", [schema])) == "1"
                    }, tableExists: { schema, name in
                        (try? probe.value("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = $2", [schema, name])) == "1"
                    })
                probe.close()
                for w in choice.skipped { warnings.append(w); note(w) }
                let file = try writeTemporaryFile(Array(choice.list.utf8), directory: options.temporaryDirectory, name: "kura-toc")
                listFile = file
                runs = [["--use-list=\(file)"]]
            }
            if options.jobs > 1 {
                let file = try await copyToTemporaryFile(dump, directory: options.temporaryDirectory)
                defer { unlink(file) }
                for selection in runs {
                    let command = ChildCommand(common + ["--jobs=\(options.jobs)"] + selection + [file], environment: target.childEnvironment,
                                               passStderrThrough: true)
                    try await ProcessRunner.run(command).requireSuccess(what)
                }
                bytes = dump.size
            } else {
                // One transaction per run (--single-transaction; not possible with --jobs): a failure
                // part-way leaves nothing of that run behind.
                for selection in runs {
                    bytes = max(bytes, try await rollbackNote(options) {
                        try await streamer.feed(dump, into: common + ["--single-transaction"] + selection, environment: target.childEnvironment, what: what).bytes
                    })
                }
                // With --table/--schema pg_restore may stop reading once it has what it needs, and what was
                // fed can then be counted as 0: report the dump that was restored from, as with --jobs.
                if !runs.isEmpty, bytes < dump.size { bytes = dump.size }
            }
        }
        return DatabaseRestoreResult(database: db.name, into: options.into, server: target.withoutPassword.display, format: db.format,
                                     created: options.create, bytes: bytes, seconds: Date().timeIntervalSince(started),
                                     tables: options.tables, globals: globalsApplied, warnings: warnings)
    }

    /// A restore that ran in one transaction and failed was rolled back: say so, and what is left.
    func rollbackNote<T>(_ options: DatabaseRestoreOptions, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch {
            var e = KuraError.from(error)
            e.message += "; the restore ran in one transaction and was rolled back: nothing of it is in '\(options.into)'"
                + (options.create ? " (the database itself was created and is empty)" : "")
            if e.hint == nil { e.hint = options.create ? "drop '\(options.into)' or rerun with --clean" : "fix the cause and run it again" }
            throw e
        }
    }

    /// A small 0600 temporary file with `bytes` (a pg_restore list file).
    func writeTemporaryFile(_ bytes: [UInt8], directory: String?, name: String) throws -> String {
        let dir = directory ?? ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((dir + "/\(name)-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw KuraError(.io, "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        fchmod(fd, 0o600)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { unlink(path); throw KuraError(.io, "cannot write \(path)") }
        return path
    }

    /// For pg_restore -j, which seeks: the dump in a 0600 temporary file.
    func copyToTemporaryFile(_ node: Node, directory: String?) async throws -> String {
        let dir = directory ?? ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((dir + "/kura-restore-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw KuraError(.io, "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))", hint: "pass --temp-dir DIR with room for the dump (\(node.size) bytes)") }
        let path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(fd) }
        do {
            fchmod(fd, 0o600)
            try await ContentStreamer(repository: repository).stream(node.content) { bytes in
                var done = 0
                try bytes.withUnsafeBytes { raw in
                    while done < raw.count {
                        let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                        if n < 0 { if errno == EINTR { continue }; throw KuraError(errno == ENOSPC ? .noSpace : .io, "writing \(path): \(String(cString: strerror(errno)))") }
                        done += n
                    }
                }
            }
        } catch {
            unlink(path)
            throw error
        }
        return path
    }
}
