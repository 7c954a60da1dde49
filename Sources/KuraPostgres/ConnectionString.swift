import CLibPQ
import Foundation
import KuraRepository

/// A libpq connection string — `host=db port=5432 user=backup dbname=app` or
/// `postgresql://backup@db:5432/app` — parsed by libpq itself, so every form libpq accepts works.
///
/// The password, if the string has one, is never printed (``display`` leaves it out) and never put
/// on a child's command line: children get the string without it (``withoutPassword``) and the
/// password in `PGPASSWORD` (``childEnvironment``), which only the same user can read. Without a
/// password in the string libpq finds one as usual: `PGPASSWORD`, `PGPASSFILE` or `~/.pgpass`.
public struct PostgresDSN: Sendable, Equatable {
    /// The keywords that were set (libpq names: host, port, user, dbname, password, sslmode, …).
    public private(set) var settings: [String: String]

    /// Parses a connection string (an empty string means libpq's defaults: PGHOST, PGPORT, …).
    public init(_ text: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(text, &error) else {
            let message = error.map { String(cString: $0) } ?? "out of memory"
            if let error { PQfreemem(error) }
            throw KuraError(.invalidArgument, "invalid PostgreSQL connection string: \(PostgresDSN.redact(message))",
                            hint: "use key=value pairs (host=db port=5432 user=backup dbname=app) or a URI (postgresql://backup@db:5432/app); keep the password in PGPASSWORD or ~/.pgpass")
        }
        defer { PQconninfoFree(options) }
        var settings: [String: String] = [:]
        var i = 0
        while let keyword = options[i].keyword {
            if let value = options[i].val { settings[String(cString: keyword)] = String(cString: value) }
            i += 1
        }
        self.settings = settings
    }

    /// A connection string from settings (empty values are dropped).
    public init(settings: [String: String]) { self.settings = settings.filter { !$0.value.isEmpty } }

    public var host: String? { settings["host"] ?? settings["hostaddr"] }
    public var port: String? { settings["port"] }
    public var user: String? { settings["user"] }
    public var dbname: String? { settings["dbname"] }
    public var hasPassword: Bool { settings["password"] != nil }

    /// The same connection string naming another database.
    public func with(dbname: String) -> PostgresDSN {
        var copy = self
        copy.settings["dbname"] = dbname
        return copy
    }

    /// The same connection string with more settings (existing ones are kept).
    public func adding(_ extra: [String: String]) -> PostgresDSN {
        var copy = self
        for (k, v) in extra where copy.settings[k] == nil { copy.settings[k] = v }
        return copy
    }

    /// Without the password (for a child's command line, or for recording).
    public var withoutPassword: PostgresDSN {
        var copy = self
        copy.settings["password"] = nil
        return copy
    }

    /// The libpq form `key='value' …`, keys sorted. Includes the password if there is one: only for
    /// this process's own connections, never for printing or a command line.
    public var conninfo: String {
        settings.sorted { $0.key < $1.key }.map { "\($0.key)=\(PostgresDSN.quote($0.value))" }.joined(separator: " ")
    }

    /// What a child process gets: the connection string without the password, and the password (if
    /// any) as PGPASSWORD in its environment.
    public var childConninfo: String { withoutPassword.conninfo }
    public var childEnvironment: [String: String] {
        settings["password"].map { ["PGPASSWORD": $0] } ?? [:]
    }

    /// For messages: `user@host:port/dbname`, never the password.
    public var display: String {
        let h = host ?? "(default host)"
        let p = port.map { ":\($0)" } ?? ""
        let u = user.map { "\($0)@" } ?? ""
        let d = dbname.map { "/\($0)" } ?? ""
        return u + h + p + d
    }

    static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// libpq's parse errors quote pieces of the string; keep only pieces that are option names, so a
    /// mistyped password never reaches the terminal.
    static func redact(_ message: String) -> String {
        var keywords: Set<String> = []
        if let defaults = PQconndefaults() {
            var i = 0
            while let k = defaults[i].keyword { keywords.insert(String(cString: k)); i += 1 }
            PQconninfoFree(defaults)
        }
        let parts = message.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\"", omittingEmptySubsequences: false)
        var out = ""
        for (i, part) in parts.enumerated() {
            if i % 2 == 1 {
                out += keywords.contains(String(part)) || part == "=" ? "\"\(part)\"" : "\"…\""
            } else {
                out += part
            }
        }
        return out
    }
}
