import Foundation
import KuraRepository

/// Checks a server's WAL archiving settings against what `kura wal-push` needs, and says exactly
/// what to change (for `kura config check` on a source with `wal-archive = true`).
public enum ArchiveSettings {
    public struct Finding: Sendable, Equatable {
        public var ok: Bool
        public var message: String
        public var hint: String?
    }

    /// The archive_command kura recommends for a configuration file.
    public static func recommendedCommand(configPath: String) -> String { "kura wal-push --config \(configPath) %p" }

    /// Reads wal_level, archive_mode, archive_command and archive_timeout (and pg_stat_archiver) from the server.
    public static func check(_ dsn: PostgresDSN, configPath: String) throws -> [Finding] {
        let c = try PostgresConnection(dsn.adding(dsn.settings["connect_timeout"] == nil ? ["connect_timeout": "5"] : [:]))
        defer { c.close() }
        func setting(_ name: String) throws -> String { try c.value("SELECT current_setting($1)", [name]) ?? "" }
        let wanted = recommendedCommand(configPath: configPath)
        var out: [Finding] = []
        let level = try setting("wal_level")
        out.append(level == "replica" || level == "logical"
                   ? Finding(ok: true, message: "wal_level = \(level)")
                   : Finding(ok: false, message: "wal_level is \(level): archived WAL cannot rebuild the database", hint: "set wal_level = replica in postgresql.conf and restart PostgreSQL"))
        let mode = try setting("archive_mode")
        out.append(mode == "on" || mode == "always"
                   ? Finding(ok: true, message: "archive_mode = \(mode)")
                   : Finding(ok: false, message: "archive_mode is \(mode): the server archives no WAL", hint: "set archive_mode = on in postgresql.conf and restart PostgreSQL"))
        let command = try setting("archive_command")
        if command.contains("kura") && command.contains("wal-push") && command.contains("%p") && (command.contains(configPath) || command.contains("--repo")) {
            out.append(Finding(ok: true, message: "archive_command = '\(command)'"))
        } else {
            out.append(Finding(ok: false, message: "archive_command is '\(command)', which does not run `kura wal-push` with this configuration",
                               hint: "set archive_command = '\(wanted)' in postgresql.conf and run SELECT pg_reload_conf()"))
        }
        let timeout = Int(try setting("archive_timeout").filter(\.isNumber)) ?? 0
        out.append(timeout > 0 && timeout <= 300
                   ? Finding(ok: true, message: "archive_timeout = \(timeout) s (the most a quiet server's WAL waits to be archived)")
                   : Finding(ok: false, message: "archive_timeout is \(timeout == 0 ? "off" : "\(timeout) s"): on a quiet server the newest writes may wait long for archiving",
                             hint: "set archive_timeout = 60 (a minute of data at most at risk) and run SELECT pg_reload_conf()"))
        if let row = try c.query("SELECT failed_count::text, coalesce(last_failed_wal, ''), coalesce(last_archived_wal, '') FROM pg_stat_archiver").first,
           let failedText = row[0], let failed = Int(failedText), failed > 0, let lastFailed = row[1], !lastFailed.isEmpty, lastFailed > (row[2] ?? "") {
            out.append(Finding(ok: false, message: "archiving is failing: \(lastFailed) has not been archived (\(failed) failures since the statistics reset)",
                               hint: "read the server log for kura's error; run the archive_command by hand as the server's user"))
        }
        return out
    }
}
