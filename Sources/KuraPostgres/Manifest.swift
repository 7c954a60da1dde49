import Foundation
import KuraRepository
import KuraRestorer

/// `/postgres/manifest.json`: what a logical PostgreSQL snapshot holds and how to check a restore.
/// Written last in the snapshot, after every dump finished, so it records their sizes and timings.
public struct PostgresManifest: Codable, Sendable, Equatable {
    /// The server, as connected (no password is ever recorded).
    public struct Server: Codable, Sendable, Equatable {
        /// Host name, address or socket folder; port; user.
        public var host: String
        public var port: String
        public var user: String
        /// "15.18"; 150018.
        public var version: String
        public var versionNumber: Int
    }

    /// One table's exact row count (and, with --deep-verify-data, a hash of its rows), read inside
    /// the snapshot the dump used.
    public struct Table: Codable, Sendable, Equatable, Hashable {
        public var schema: String
        public var name: String
        public var rows: Int64?
        public var hash: String?
        public init(schema: String, name: String, rows: Int64? = nil, hash: String? = nil) {
            self.schema = schema; self.name = name; self.rows = rows; self.hash = hash
        }
        /// `schema.name` for people (not for SQL).
        public var display: String { "\(schema).\(name)" }
    }

    /// A stored file that is not a database dump (globals).
    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: UInt64
        public var seconds: Double
    }

    public struct Database: Codable, Sendable, Equatable {
        public var name: String
        /// The dump inside the snapshot, e.g. "/postgres/app.dump".
        public var path: String
        /// "custom" (pg_dump -Fc -Z0) or "plain" (SQL).
        public var format: String
        /// pg_database_size at backup time.
        public var sizeBytes: Int64
        public var encoding: String
        public var collate: String
        public var ctype: String
        /// The exported snapshot the dump and the counts share.
        public var exportedSnapshot: String
        public var tables: [Table]
        /// Seconds spent counting (and hashing) rows.
        public var countSeconds: Double
        /// Length and duration of the pg_dump stream.
        public var dumpBytes: UInt64
        public var dumpSeconds: Double
    }

    public var format = "kura-postgres/1"
    /// When the counts were read (RFC 3339).
    public var created: String
    public var server: Server
    /// The pg_dump that wrote the dumps, "15.18".
    public var pgDump: String
    /// False with --no-row-counts: tables are listed, rows are not counted.
    public var rowCounts: Bool
    /// True with --deep-verify-data: every table has a hash of its rows.
    public var rowHashes: Bool
    public var globals: File?
    public var databases: [Database]

    public static let path = "/postgres/manifest.json"

    public func database(named name: String?) throws -> Database {
        if let name {
            guard let db = databases.first(where: { $0.name == name }) else {
                throw KuraError(.notFound, "the snapshot has no dump of database '\(name)'",
                                hint: "it holds: \(databases.map(\.name).joined(separator: ", "))")
            }
            return db
        }
        guard databases.count == 1 else {
            throw KuraError(.invalidArgument, "the snapshot holds \(databases.count) databases; name one as SNAPSHOT:DB",
                            hint: "it holds: \(databases.map(\.name).joined(separator: ", ")); e.g. latest:\(databases.first?.name ?? "app")")
        }
        return databases[0]
    }
}

/// `/postgres-physical/manifest.json`: what a physical (pg_basebackup) snapshot holds.
public struct PhysicalManifest: Codable, Sendable, Equatable {
    public var format = "kura-postgres-physical/1"
    public var created: String
    public var server: PostgresManifest.Server
    public var pgBasebackup: String
    /// "/postgres-physical/base.tar": the data directory with the WAL needed to make it consistent.
    public var path: String
    public var bytes: UInt64
    public var seconds: Double
    public var dataDirectory: String?
    /// WAL position no later than the backup's start (`pg_current_wal_lsn()` before pg_basebackup):
    /// point-in-time recovery from this backup needs the archived WAL from `startWAL` on.
    public var startLSN: WALPosition?
    /// WAL position no earlier than the backup's end (`pg_current_wal_lsn()` after pg_basebackup):
    /// the restored copy is consistent once recovery has replayed to here.
    public var stopLSN: WALPosition?
    /// The server's timeline during the backup.
    public var timeline: UInt32?
    /// The segment holding `startLSN` (the oldest WAL this backup needs).
    public var startWAL: String?
    /// When pg_basebackup finished (RFC 3339): a recovery target must be later than this.
    public var finished: String?

    public static let path = "/postgres-physical/manifest.json"
    public static let tarPath = "/postgres-physical/base.tar"
}

enum ManifestCoding {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(value)) + [10]
    }

    /// Reads a small JSON file of a snapshot.
    static func load<T: Decodable>(_ type: T.Type, path: String, from browser: SnapshotBrowser, what: String) async throws -> T {
        let entry: SnapshotEntry
        do { entry = try await browser.entry(at: Array(path.utf8)) } catch let e as KuraError where e.code == .notFound {
            throw KuraError(.notFound, "snapshot \(browser.snapshot.id?.short ?? "") has no \(path): it is not \(what) made by `kura backup --postgres\(what.contains("physical") ? "-physical" : "")` (its source is '\(browser.snapshot.source)')",
                            hint: "list snapshots with `kura snapshots`; a dump stored otherwise (--stdin-from-command, or a kura.toml postgres source of this version) restores by hand: `kura cat SNAP:/postgres/DB.dump | pg_restore -d DB`")
        }
        guard let node = entry.node, node.type == .file else { throw KuraError(.corrupt, "\(path) in snapshot \(browser.snapshot.id?.short ?? "") is not a file") }
        var bytes: [UInt8] = []
        try await ContentStreamer(repository: browser.repository).stream(node.content) { bytes += $0 }
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
            throw KuraError(.corrupt, "\(path) in snapshot \(browser.snapshot.id?.short ?? "") cannot be read: \(error)")
        }
    }
}
