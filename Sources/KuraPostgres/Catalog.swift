import Foundation
import KuraRepository

/// The catalog queries that backup and verify-restore share, so both sides count the same tables
/// the same way.
public enum Catalog {
    /// Settings that make a row's text form the same in every session (dates, time zone, floats,
    /// bytea, intervals, money), so row hashes compare across sessions and servers of one major version.
    static let stableOutput = """
        SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres';
        SET extra_float_digits = 3; SET bytea_output = 'hex'; SET lc_monetary = 'C'; SET statement_timeout = 0
        """

    /// Plain tables whose data pg_dump writes: ordinary and unlogged tables and partitions (each
    /// row is counted once, in the partition that holds it; partitioned parents hold none), not
    /// temporary tables, not system schemas, not tables that belong to an extension.
    static let userTables = """
        SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relpersistence <> 't'
          AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2
        """

    public static func prepare(_ connection: PostgresConnection) throws {
        try connection.query(stableOutput)
    }

    public static func tables(_ connection: PostgresConnection) throws -> [PostgresManifest.Table] {
        try connection.query(userTables).map { PostgresManifest.Table(schema: $0[0] ?? "", name: $0[1] ?? "") }
    }

    static func qualified(_ t: PostgresManifest.Table) -> String {
        PostgresConnection.quoteIdentifier(t.schema) + "." + PostgresConnection.quoteIdentifier(t.name)
    }

    /// The exact number of rows stored in the table itself (ONLY: inheritance children count on their own).
    public static func count(_ connection: PostgresConnection, _ t: PostgresManifest.Table) throws -> Int64 {
        guard let text = try connection.value("SELECT count(*) FROM ONLY \(qualified(t))"), let n = Int64(text) else {
            throw KuraError(.fatal, "counting the rows of \(t.display) returned nothing")
        }
        return n
    }

    /// A hash of a table's rows that does not depend on their physical order: the md5 of each row's
    /// text form (under ``stableOutput``), its two 64-bit halves summed exactly (numeric) over all
    /// rows, and the md5 of the row count and both sums. Unlike an md5 over the rows sorted and
    /// joined, it needs no sort, constant memory and has no 1 GB text limit; a missing, extra or
    /// changed row changes it (a chance collision is about 2^-128).
    public static func hash(_ connection: PostgresConnection, _ t: PostgresManifest.Table) throws -> String {
        let sql = """
            SELECT md5(count(*)::text || ':' || coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text
                       || ':' || coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text)
            FROM (SELECT md5(t::text) AS h FROM ONLY \(qualified(t)) AS t) AS rows
            """
        guard let h = try connection.value(sql) else { throw KuraError(.fatal, "hashing the rows of \(t.display) returned nothing") }
        return "md5sum:" + h
    }

    /// Counts (and optionally hashes) every table.
    /// A table lock was not granted within the session's `lock_timeout` (SQLSTATE 55P03).
    public struct LockTimeout: Error, Sendable {
        public var table: PostgresManifest.Table
        public var error: KuraError
    }

    public static func measure(_ connection: PostgresConnection, counts: Bool, hashes: Bool) throws -> [PostgresManifest.Table] {
        var out: [PostgresManifest.Table] = []
        for var t in try tables(connection) {
            do {
                if counts || hashes { t.rows = try count(connection, t) }
                if hashes { t.hash = try hash(connection, t) }
            } catch let e as KuraError where PostgresServerError.sqlState(of: e) == "55P03" {
                throw LockTimeout(table: t, error: e)
            }
            out.append(t)
        }
        return out
    }

    /// Databases that can be dumped: not templates, accepting connections.
    public static func databases(_ connection: PostgresConnection) throws -> [String] {
        try connection.query("SELECT datname FROM pg_catalog.pg_database WHERE NOT datistemplate AND datallowconn ORDER BY 1").compactMap { $0[0] }
    }

    public static func databaseExists(_ connection: PostgresConnection, _ name: String) throws -> Bool {
        try connection.value("SELECT count(*) FROM pg_catalog.pg_database WHERE datname = $1", [name]) != "0"
    }

    /// DROP DATABASE, forcing other sessions off where the server can (13+).
    public static func dropDatabase(_ connection: PostgresConnection, _ name: String, force: Bool) throws {
        let q = PostgresConnection.quoteIdentifier(name)
        if force && connection.serverVersion >= 130000 {
            try connection.query("DROP DATABASE IF EXISTS \(q) WITH (FORCE)")
        } else {
            try connection.query("DROP DATABASE IF EXISTS \(q)")
        }
    }

    /// CREATE DATABASE from template0 with the recorded encoding and locale; if the locale does not
    /// exist on this server, with the encoding only (and a warning).
    public static func createDatabase(_ connection: PostgresConnection, _ name: String, like db: PostgresManifest.Database?,
                                      warn: (String) -> Void) throws {
        let q = PostgresConnection.quoteIdentifier(name)
        guard let db else { try connection.query("CREATE DATABASE \(q) TEMPLATE template0"); return }
        let enc = PostgresConnection.quoteLiteral(db.encoding)
        do {
            try connection.query("CREATE DATABASE \(q) TEMPLATE template0 ENCODING \(enc) LC_COLLATE \(PostgresConnection.quoteLiteral(db.collate)) LC_CTYPE \(PostgresConnection.quoteLiteral(db.ctype))")
        } catch where PostgresServerError.sqlState(of: error) == "22023" {
            // invalid_parameter_value: an unknown locale, or one the template's collation rules out.
            warn("the locale of '\(db.name)' (\(db.collate)) is not available on this server; '\(name)' uses the server's default locale")
            try connection.query("CREATE DATABASE \(q) TEMPLATE template0 ENCODING \(enc)")
        }
    }
}
