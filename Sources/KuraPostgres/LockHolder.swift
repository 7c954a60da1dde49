import Foundation
import KuraRepository

/// Who holds the lock a backup waited for in vain: looked up on a fresh connection (the waiting
/// session's transaction is aborted), so that the failure report names the session to look at.
enum LockHolder {
    static func describe(_ timeout: Catalog.LockTimeout, database dsn: PostgresDSN, waited seconds: Double) -> KuraError {
        let table = timeout.table
        var holders: [String] = []
        if let connection = try? PostgresConnection(dsn) {
            defer { connection.close() }
            let rows = (try? connection.query("""
                SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'),
                       coalesce(to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS TZ'), ''), coalesce(a.state, ''), l.mode,
                       left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 160)
                FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid()
                  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
                  AND l.relation = (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                    WHERE n.nspname = $1 AND c.relname = $2)
                  AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock')
                ORDER BY a.xact_start
                """, [table.schema, table.name])) ?? []
            for r in rows {
                let field = { (i: Int) in i < r.count ? (r[i] ?? "") : "" }
                holders.append("pid \(field(0)) (user \(field(1))\(field(2).isEmpty ? "" : ", application \(field(2))"), from \(field(3)), transaction since \(field(4)), \(field(5)), \(field(6))): \(field(7))")
            }
        }
        let who = holders.isEmpty ? "another session (it was gone when kura looked)" : holders.joined(separator: "; ")
        return KuraError(.timedOut, "table \(table.display) in database \(dsn.dbname ?? "?") stayed locked for \(Int(seconds)) s by \(who); the backup of this database was stopped",
                         hint: "nothing was saved by this run; end or wait for that session (SELECT pg_terminate_backend(PID)), or raise the lock timeout (lock-timeout in kura.toml, --lock-timeout)",
                         cause: timeout.error)
    }
}
