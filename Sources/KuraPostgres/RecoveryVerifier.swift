import Foundation
import KuraRepository

/// What `restore-physical --to-… --verify` found on the scratch server.
public struct RecoveryReport: Sendable, Codable {
    public var reachedTarget: Bool
    /// `promoted` (out of recovery), `paused` (at the target, action pause), or what it was last.
    public var state: String
    public var replayedLSN: String?
    /// The newest commit recovery replayed (pg_last_xact_replay_timestamp), when known.
    public var lastReplayedCommit: String?
    public var seconds: Double
    /// Row counts per database and table, read from the recovered server.
    public var tables: [String: Int64] = [:]
    public var error: String?
}

/// Starts a scratch PostgreSQL server on a restored data directory (its own socket folder, no TCP
/// listener, archiving off so it never writes into the repository), waits until recovery reaches its
/// target, reads every table to prove the copy is consistent and readable, and stops the server.
public struct RecoveryVerifier: Sendable {
    public var dataDirectory: String
    public var tools = PostgresTools()
    public var timeout: Duration = .seconds(600)
    /// Databases to count rows in (nil: all that accept connections).
    public var databases: [String]?

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    private var owner: String? {
        guard geteuid() == 0 else { return nil }
        var st = stat()
        guard stat(dataDirectory, &st) == 0, let pw = getpwuid(st.st_uid) else { return nil }
        return String(cString: pw.pointee.pw_name)
    }

    private func asOwner(_ argv: [String]) -> [String] {
        guard let owner, owner != "root" else { return argv }
        return ["/usr/sbin/runuser", "-u", owner, "--"] + argv
    }

    public func verify(action: String) async throws -> RecoveryReport {
        let started = Date()
        let socket = NSTemporaryDirectory() + "kura-recovery-\(UUID().uuidString.prefix(8))"
        guard mkdir(socket, 0o700) == 0 else { throw KuraError(.io, "cannot create \(socket)") }
        defer { try? FileManager.default.removeItem(atPath: socket) }
        var st = stat()
        if geteuid() == 0, stat(dataDirectory, &st) == 0 { _ = chown(socket, st.st_uid, st.st_gid) }
        let pgctl = try tools.path("pg_ctl")
        let log = socket + "/server.log"
        let opts = "-c listen_addresses='' -c unix_socket_directories='\(socket)' -c port=5432 -c archive_mode=off -c hot_standby=on"
        let start = try await ToolRun.run(asOwner([pgctl, "-D", dataDirectory, "-l", log, "-o", opts, "-w", "-t", "600", "start"]), environment: [:], timeout: timeout)
        var report = RecoveryReport(reachedTarget: false, state: "not started", seconds: 0)
        guard start.status == 0 else {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8)).map { String($0.suffix(2000)) } ?? start.stderr
            throw KuraError(.commandFailed, "the restored server did not start: \(tail)", hint: "read the server log above; the data directory is left as it is")
        }
        let dsn = PostgresDSN(settings: ["host": socket, "port": "5432", "user": "postgres", "dbname": "postgres"])
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds))
        do {
            let c = try PostgresConnection(dsn)
            defer { c.close() }
            while true {
                let row = try c.query("""
                    SELECT pg_is_in_recovery()::text,
                           CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'not paused' END,
                           coalesce(pg_last_wal_replay_lsn()::text, ''), coalesce(pg_last_xact_replay_timestamp()::text, '')
                    """).first ?? []
                let inRecovery = (row.first ?? nil) == "true"
                let lsn = row.count > 2 ? row[2] ?? "" : "", commit = row.count > 3 ? row[3] ?? "" : ""
                report.replayedLSN = lsn.isEmpty ? nil : lsn
                report.lastReplayedCommit = commit.isEmpty ? nil : commit
                if !inRecovery { report.state = "promoted"; report.reachedTarget = true; break }
                if (row.count > 1 ? row[1] : nil) == "paused" { report.state = "paused"; report.reachedTarget = true; break }
                report.state = "recovering"
                guard Date() < deadline else { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let names = try databases ?? c.query("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1").compactMap { $0[0] }
            for db in names {
                let dc = try PostgresConnection(dsn.with(dbname: db))
                defer { dc.close() }
                try Catalog.prepare(dc)
                for t in try Catalog.tables(dc) { report.tables["\(db).\(t.display)"] = try Catalog.count(dc, t) }
            }
        } catch {
            report.error = KuraError.from(error).message
        }
        // Stop it whatever happened (every error above was caught).
        let stop = try? await ToolRun.run(asOwner([pgctl, "-D", dataDirectory, "-m", "fast", "-w", "-t", "60", "stop"]), environment: [:], timeout: .seconds(90))
        if stop?.status != 0 {
            _ = try? await ToolRun.run(asOwner([pgctl, "-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"]), environment: [:], timeout: .seconds(60))
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}
