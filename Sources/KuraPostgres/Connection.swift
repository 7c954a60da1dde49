import CLibPQ
import Foundation
import KuraRepository

/// One libpq connection (the only code besides ``PostgresDSN`` that calls libpq). Calls block the
/// calling thread; they are serialized by a lock, as libpq connections are not thread-safe.
public final class PostgresConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var handle: OpaquePointer?
    /// The connection string it was opened with (messages use `dsn.display`).
    public let dsn: PostgresDSN

    /// Connects (UTF-8 client encoding, application name "kura" unless the string sets them).
    public init(_ dsn: PostgresDSN) throws {
        self.dsn = dsn
        let info = dsn.adding(["client_encoding": "UTF8", "application_name": "kura"]).conninfo
        let h = PQconnectdb(info)
        guard let h, PQstatus(h) == CONNECTION_OK else {
            let message = h.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(h)
            throw KuraError(.fatal, "cannot connect to PostgreSQL at \(dsn.display): \(message.trimmingCharacters(in: .whitespacesAndNewlines))",
                            hint: "check the connection string and that the server runs; a password comes from the string, PGPASSWORD, PGPASSFILE or ~/.pgpass (it is never printed)")
        }
        // Notices (e.g. "database … does not exist, skipping") would go to stderr; drop them.
        PQsetNoticeProcessor(h, { _, _ in }, nil)
        handle = h
    }

    deinit { if let handle { PQfinish(handle) } }

    /// Connects, runs `select 1` and disconnects: does the server accept this connection string?
    /// (In this process through libpq: no child, so the password is on no command line.) Blocking.
    public static func check(_ dsn: PostgresDSN, timeoutSeconds: Int = 5) throws {
        let timeout = dsn.settings["connect_timeout"] == nil ? ["connect_timeout": String(timeoutSeconds)] : [:]
        let connection = try PostgresConnection(dsn.adding(timeout))
        defer { connection.close() }
        _ = try connection.value("select 1")
    }

    /// Closes the connection (later calls fail).
    public func close() {
        lock.lock(); defer { lock.unlock() }
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// The server's version number, e.g. 150018 for 15.18, 90624 for 9.6.24.
    public var serverVersion: Int { lock.withLock { handle.map { Int(PQserverVersion($0)) } ?? 0 } }
    /// The host (or socket folder), port, user and database of the live connection.
    public var host: String { lock.withLock { handle.flatMap { PQhost($0) }.map { String(cString: $0) } ?? "" } }
    public var port: String { lock.withLock { handle.flatMap { PQport($0) }.map { String(cString: $0) } ?? "" } }
    public var user: String { lock.withLock { handle.flatMap { PQuser($0) }.map { String(cString: $0) } ?? "" } }
    public var database: String { lock.withLock { handle.flatMap { PQdb($0) }.map { String(cString: $0) } ?? "" } }

    /// Runs one SQL statement (or several, without parameters) and returns the rows of the last one
    /// as text (NULL is nil).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        lock.lock(); defer { lock.unlock() }
        guard let handle else { throw KuraError(.fatal, "the PostgreSQL connection to \(dsn.display) is closed") }
        let result: OpaquePointer?
        if parameters.isEmpty {
            result = PQexec(handle, sql)
        } else {
            let copies = parameters.map { $0.map { strdup($0) } ?? nil }
            defer { for c in copies { free(c) } }
            let pointers = copies.map { UnsafePointer<CChar>($0) }
            result = pointers.withUnsafeBufferPointer { buffer in
                PQexecParams(handle, sql, Int32(parameters.count), nil, buffer.baseAddress, nil, nil, 0)
            }
        }
        guard let result else {
            throw KuraError(.fatal, "PostgreSQL at \(dsn.display): \(String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            throw KuraError(.fatal, "PostgreSQL at \(dsn.display): \(message)\n  in: \(sql.count > 200 ? String(sql.prefix(200)) + "…" : sql)",
                            cause: PostgresServerError(sqlState: state ?? "", message: message))
        }
        let rows = Int(PQntuples(result)), columns = Int(PQnfields(result))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            row.reserveCapacity(columns)
            for c in 0..<columns {
                if PQgetisnull(result, Int32(r), Int32(c)) != 0 { row.append(nil) } else {
                    row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            out.append(row)
        }
        return out
    }

    /// The first column of the first row.
    public func value(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try query(sql, parameters).first?.first ?? nil
    }

    /// `"name"` with inner quotes doubled: a safe SQL identifier for any name.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `'text'` with inner quotes doubled (standard_conforming_strings is on in every supported server).
    public static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

/// PostgreSQL version numbers: 150018 is "15.18", 90624 is "9.6.24"; the major version is 15, or 9.6.
public enum PostgresVersion {
    /// Parses "15.18", "9.6.24", "16beta1", "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
    public static func parse(_ text: String) -> Int? {
        let token = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
            .first(where: { $0.first?.isNumber == true }) ?? ""
        let parts = token.split(separator: ".").map { Int($0.prefix(while: { $0.isNumber })) ?? 0 }
        guard let major = parts.first, major > 0 else { return nil }
        if major >= 10 { return major * 10000 + (parts.count > 1 ? parts[1] : 0) }
        return major * 10000 + (parts.count > 1 ? parts[1] : 0) * 100 + (parts.count > 2 ? parts[2] : 0)
    }

    /// A number that orders major versions: 1500 for 15.x, 906 for 9.6.x.
    public static func majorKey(_ number: Int) -> Int { number >= 100000 ? number / 10000 * 100 : number / 100 }

    /// "15" or "9.6".
    public static func major(_ number: Int) -> String {
        number >= 100000 ? "\(number / 10000)" : "\(number / 10000).\(number / 100 % 100)"
    }

    /// "15.18" or "9.6.24".
    public static func display(_ number: Int) -> String {
        number >= 100000 ? "\(number / 10000).\(number % 10000)" : "\(number / 10000).\(number / 100 % 100).\(number % 100)"
    }
}

/// What the server said about a failed statement: its SQLSTATE (decide on this, never on the text)
/// and its message. Carried as the `cause` of the `KuraError` a query throws.
public struct PostgresServerError: Error, Sendable, CustomStringConvertible {
    /// The five-character SQLSTATE, e.g. `22023` (invalid_parameter_value), `55P03` (lock_not_available).
    public var sqlState: String
    public var message: String
    public var description: String { "SQLSTATE \(sqlState)" }

    /// The SQLSTATE of a query error, if it came from the server.
    public static func sqlState(of error: any Error) -> String? {
        ((error as? KuraError)?.cause as? PostgresServerError)?.sqlState
    }
}
