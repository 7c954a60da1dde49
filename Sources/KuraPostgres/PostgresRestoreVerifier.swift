import Foundation
import KuraRepository
import KuraRestorer

/// The outcome of `verify-restore`, stored as a repository record of kind "verify-restore".
public struct VerifyReport: Codable, Sendable {
    public struct TableResult: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable {
            /// Counts (and hashes, with --deep) equal.
            case ok
            /// The restored count (or hash) differs from the recorded one.
            case mismatch
            /// Recorded at backup time, absent after the restore.
            case missing
            /// Present after the restore, not recorded at backup time.
            case unexpected
            /// Restored; the backup recorded no counts (--no-row-counts), so nothing to compare.
            case unrecorded
        }
        public var schema: String
        public var name: String
        public var status: Status
        public var expectedRows: Int64?
        public var restoredRows: Int64?
        public var expectedHash: String?
        public var restoredHash: String?
        public var passed: Bool { status == .ok || status == .unrecorded }
    }

    public struct DatabaseResult: Codable, Sendable {
        public var name: String
        public var scratchDatabase: String
        public var format: String
        public var dumpBytes: UInt64
        public var restoreSeconds: Double
        public var compareSeconds: Double
        /// False when the restore failed or any table did not pass.
        public var ok: Bool
        /// Why the restore itself failed (pg_restore's message).
        public var error: String?
        public var tables: [TableResult]
        /// True when the scratch database was dropped afterwards.
        public var dropped: Bool
    }

    public var snapshot: String
    /// The backup source this verifies: a kura.toml source name (`--source`), else "postgres".
    public var source: String
    /// Databases restored, and the dump bytes restored (named as in the file-level verification
    /// records of `kura run`, so `kura status` shows these too).
    public var files: Int
    public var bytes: UInt64
    public var snapshotTime: String
    public var host: String
    public var verifiedAt: String
    /// The server the restore ran on (no password).
    public var server: String
    public var serverVersion: String
    public var deep: Bool
    public var ok: Bool
    public var seconds: Double
    public var databases: [DatabaseResult]
    public var warnings: [String]
}

public struct VerifyOptions: Sendable {
    /// Databases to verify (empty: all in the snapshot).
    public var databases: [String] = []
    /// The server; nil: the one recorded in the manifest.
    public var dsn: PostgresDSN?
    /// Also compare row hashes (needs a backup made with --deep-verify-data).
    public var deep = false
    /// The source name recorded with the result (default: a "source:NAME" tag of the snapshot, else "postgres").
    public var source: String?
    public var tools = PostgresTools()
    public init() {}
}

/// Restores each dump of a snapshot into a scratch database `kura_verify_<random>` on the recorded
/// server (or another), counts (and with `deep` hashes) every table there with the same queries the
/// backup used inside the dump's snapshot, compares, and drops the scratch database whatever happened.
///
/// Hashes are compared with those recorded at backup time (`--deep-verify-data`): they were read in
/// the exported snapshot the dump was made from, so they describe exactly what the dump should hold.
/// Comparing with the live source database at verify time would report every change made since the
/// backup as a failure.
public struct PostgresRestoreVerifier: Sendable {
    public let repository: Repository
    public let snapshot: Snapshot

    public init(repository: Repository, snapshot: Snapshot) { self.repository = repository; self.snapshot = snapshot }

    /// Compares recorded tables with what the restore holds.
    public static func compare(recorded: [PostgresManifest.Table], restored: [PostgresManifest.Table], countsRecorded: Bool, deep: Bool) -> [VerifyReport.TableResult] {
        var byName: [String: PostgresManifest.Table] = [:]
        for t in restored { byName[t.schema + "\u{0}" + t.name] = t }
        var out: [VerifyReport.TableResult] = []
        for r in recorded {
            let key = r.schema + "\u{0}" + r.name
            guard let got = byName.removeValue(forKey: key) else {
                out.append(.init(schema: r.schema, name: r.name, status: .missing, expectedRows: r.rows, expectedHash: deep ? r.hash : nil))
                continue
            }
            var status: VerifyReport.TableResult.Status = countsRecorded ? .ok : .unrecorded
            if countsRecorded && r.rows != got.rows { status = .mismatch }
            if deep && r.hash != got.hash { status = .mismatch }
            out.append(.init(schema: r.schema, name: r.name, status: status, expectedRows: r.rows, restoredRows: got.rows,
                             expectedHash: deep ? r.hash : nil, restoredHash: deep ? got.hash : nil))
        }
        for got in byName.values.sorted(by: { ($0.schema, $0.name) < ($1.schema, $1.name) }) {
            out.append(.init(schema: got.schema, name: got.name, status: .unexpected, restoredRows: got.rows, restoredHash: deep ? got.hash : nil))
        }
        return out
    }

    /// Runs the verification. `beforeCompare` (for tests) runs on the scratch database after the
    /// restore and before the comparison.
    public func verify(_ options: VerifyOptions, log: @escaping @Sendable (String) -> Void = { _ in },
                       beforeCompare: (@Sendable (PostgresConnection) throws -> Void)? = nil) async throws -> VerifyReport {
        try await repository.withLock(.shared) { _ in try await verifyLocked(options, log: log, beforeCompare: beforeCompare) }
    }

    private func verifyLocked(_ options: VerifyOptions, log: @escaping @Sendable (String) -> Void = { _ in },
                       beforeCompare: (@Sendable (PostgresConnection) throws -> Void)? = nil) async throws -> VerifyReport {
        let started = Date()
        let restorer = DatabaseRestorer(repository: repository, snapshot: snapshot)
        let manifest = try await restorer.manifest()
        let server = DatabaseRestorer.server(options.dsn, manifest: manifest)
        let maintenance = server.with(dbname: options.dsn?.dbname ?? "postgres")
        var selected = manifest.databases
        if !options.databases.isEmpty {
            selected = try options.databases.map { try manifest.database(named: $0) }
        }
        if options.deep && !manifest.rowHashes {
            throw KuraError(.invalidArgument, "snapshot \(snapshot.id?.short ?? "") has no row hashes: --deep compares with hashes recorded at backup time",
                            hint: "back up with `kura backup --postgres DSN --deep-verify-data`, or verify without --deep (row counts)")
        }
        let admin = try PostgresConnection(maintenance)
        defer { admin.close() }
        var warnings: [String] = []
        let leftovers = try Catalog.databases(admin).filter { $0.hasPrefix("kura_verify_") }
        if !leftovers.isEmpty {
            let w = "scratch databases of an interrupted verify-restore remain: \(leftovers.joined(separator: ", ")) (drop them with DROP DATABASE)"
            warnings.append(w); log("warning: " + w)
        }
        if !manifest.rowCounts {
            let w = "the backup recorded no row counts (--no-row-counts): only that every dump restores and which tables it holds are checked"
            warnings.append(w); log("warning: " + w)
        }

        var results: [VerifyReport.DatabaseResult] = []
        for db in selected {
            let scratch = "kura_verify_" + (0..<10).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement()!) }.joined()
            var result = VerifyReport.DatabaseResult(name: db.name, scratchDatabase: scratch, format: db.format, dumpBytes: db.dumpBytes,
                                                     restoreSeconds: 0, compareSeconds: 0, ok: false, error: nil, tables: [], dropped: false)
            log("\(db.name): restoring \(db.dumpBytes) bytes into \(scratch) on \(maintenance.withoutPassword.display)")
            var restoreOptions = DatabaseRestoreOptions(into: scratch)
            restoreOptions.database = db.name
            restoreOptions.dsn = options.dsn ?? server
            restoreOptions.create = true
            restoreOptions.noOwner = true
            restoreOptions.tools = options.tools
            let t0 = Date()
            do {
                _ = try await restorer.restore(restoreOptions, warn: { log("warning: " + $0) })
                result.restoreSeconds = Date().timeIntervalSince(t0)
                let t1 = Date()
                let conn = try PostgresConnection(server.with(dbname: scratch))
                defer { conn.close() }
                try Catalog.prepare(conn)
                try beforeCompare?(conn)
                let restored = try Catalog.measure(conn, counts: true, hashes: options.deep)
                result.tables = PostgresRestoreVerifier.compare(recorded: db.tables, restored: restored, countsRecorded: manifest.rowCounts, deep: options.deep)
                result.compareSeconds = Date().timeIntervalSince(t1)
                result.ok = result.tables.allSatisfy(\.passed)
            } catch {
                result.restoreSeconds = Date().timeIntervalSince(t0)
                result.error = KuraError.from(error).message
                result.ok = false
            }
            do {
                try Catalog.dropDatabase(admin, scratch, force: true)
                result.dropped = true
            } catch {
                let w = "could not drop the scratch database \(scratch): \(KuraError.from(error).message)"
                warnings.append(w); log("warning: " + w)
            }
            results.append(result)
        }
        let source = options.source ?? snapshot.tags.first { $0.hasPrefix("source:") }.map { String($0.dropFirst(7)) } ?? "postgres"
        return VerifyReport(snapshot: snapshot.id?.hex ?? "", source: source, files: results.filter { $0.error == nil }.count,
                            bytes: results.filter { $0.error == nil }.reduce(0) { $0 + $1.dumpBytes }, snapshotTime: snapshot.time, host: snapshot.host,
                            verifiedAt: Timestamp.format(Date()), server: maintenance.withoutPassword.display,
                            serverVersion: PostgresVersion.display(admin.serverVersion), deep: options.deep,
                            ok: results.allSatisfy(\.ok), seconds: Date().timeIntervalSince(started), databases: results, warnings: warnings)
    }
}
