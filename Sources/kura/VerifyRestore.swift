import ArgumentParser
import Foundation
import KuraPostgres
import KuraRepository

struct VerifyRestore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-restore",
        abstract: "Prove that a PostgreSQL backup restores: restore it into a scratch database and compare every table.",
        discussion: """
        Each database of the snapshot (default: the newest `backup --postgres` snapshot) is restored
        into a new database kura_verify_<random> on the recorded server (or --postgres), every
        table's row count is compared with the count recorded at backup time (in the dump's own
        snapshot), and with --deep a hash of every table's rows is compared with the one recorded by
        `backup --deep-verify-data`. The scratch database is dropped afterwards, also on failure.
        The result is kept in the repository (records/verify-restore); --history lists them.
          kura verify-restore
          kura verify-restore 1a2b3c4d --database app --deep --json
          kura verify-restore --source db --deep        # the newest snapshot of kura.toml source "db"
          kura verify-restore --history
        Exit codes: 0 every table matched; 1 a restore failed or a table differs (or any other error).
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SNAPSHOT (default: the newest PostgreSQL snapshot).") var snapshot: String?
    @Option(name: .long, help: ArgumentHelp("Verify only this database (repeatable).", valueName: "name")) var database: [String] = []
    @Option(name: .long, help: ArgumentHelp("The kura.toml source: verify its newest snapshot (tag source:NAME) and record the result under its name.", valueName: "name")) var source: String?
    @Option(name: .long, help: ArgumentHelp("Restore on this server instead of the recorded one (libpq connection string).", valueName: "dsn")) var postgres: String?
    @Flag(name: .long, help: "Also compare a hash of every table's rows (needs a backup made with --deep-verify-data).") var deep = false
    @Flag(name: .long, help: "List the verifications kept in the repository instead, oldest first.") var history = false

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let repo = try await global.openRepository()
            if history { return try await showHistory(repo) }
            let snap: Snapshot
            if let source, snapshot == nil {
                guard let s = try await repo.listSnapshots().filter({ $0.source == "postgres" && $0.tags.contains("source:" + source) }).max(by: { $0.date < $1.date }) else {
                    throw KuraError(.notFound, "no PostgreSQL snapshot of source '\(source)' (tag source:\(source))", hint: "run `kura run` for it first, or name a SNAPSHOT")
                }
                snap = s
            } else {
                snap = try await latestSnapshot(repo, reference: snapshot, source: "postgres")
            }
            var options = VerifyOptions()
            options.databases = database
            options.dsn = try postgres.map { try PostgresDSN($0) }
            options.deep = deep
            options.source = source
            let chatty = !global.quiet && !global.json
            let report = try await PostgresRestoreVerifier(repository: repo, snapshot: snap).verify(options, log: { line in
                if chatty { Terminal.printError("verify-restore: " + line) }
            })
            let body = try JSONEncoder.sorted.encode(report)
            let record: BlobID
            do { record = try await repo.saveRecord(kind: "verify-restore", json: Array(body)) } catch {
                throw error
            }
            if global.json {
                struct Out: Encodable { var record: String; var report: VerifyReport }
                try Terminal.json(Out(record: record.hex, report: report))
            } else {
                print(render(report))
                if !global.quiet { print("result saved as record \(record.short) (kura verify-restore --history)") }
            }
            return report.ok ? 0 : 1
        }
    }

    private func render(_ r: VerifyReport) -> String {
        var lines: [String] = []
        for db in r.databases {
            lines.append("database \(db.name) (\(db.format), \(Terminal.bytes(db.dumpBytes))) restored into \(db.scratchDatabase) in \(String(format: "%.1f", db.restoreSeconds)) s\(db.dropped ? ", dropped" : ", NOT dropped")")
            if let e = db.error { lines.append("  RESTORE FAILED: \(e)") }
            for t in db.tables where !global.quiet || !t.passed {
                let status = t.passed ? t.status.rawValue : t.status.rawValue.uppercased()
                var text = "  \(status.padding(toLength: 11, withPad: " ", startingAt: 0)) \(t.schema).\(t.name)"
                switch t.status {
                case .ok, .unrecorded: text += "  \(t.restoredRows.map(String.init) ?? "?") rows"
                case .mismatch:
                    text += "  expected \(t.expectedRows.map(String.init) ?? "?") rows, restored \(t.restoredRows.map(String.init) ?? "?")"
                    if r.deep && t.expectedHash != t.restoredHash { text += " (row hash differs)" }
                case .missing: text += "  expected \(t.expectedRows.map(String.init) ?? "?") rows, the table is not in the restore"
                case .unexpected: text += "  not recorded at backup time (\(t.restoredRows.map(String.init) ?? "?") rows)"
                }
                lines.append(text)
            }
        }
        for w in r.warnings { lines.append("warning: \(w)") }
        let tables = r.databases.reduce(0) { $0 + $1.tables.count }
        let bad = r.databases.reduce(0) { $0 + $1.tables.filter { !$0.passed }.count }
        lines.append(r.ok
            ? "verify-restore PASSED: snapshot \(r.snapshot.prefix(8)), \(r.databases.count) database(s), \(tables) tables\(r.deep ? " (counts and row hashes)" : " (row counts)"), \(String(format: "%.1f", r.seconds)) s"
            : "verify-restore FAILED: snapshot \(r.snapshot.prefix(8)): \(r.databases.filter { !$0.ok }.map(\.name).joined(separator: ", ")) (\(bad) of \(tables) tables differ)")
        return lines.joined(separator: "\n")
    }

    private func showHistory(_ repo: Repository) async throws -> Int32 {
        let records = try await repo.listRecords(kind: "verify-restore")
        struct Item: Encodable { var record: String; var time: String; var report: VerifyReport? }
        let items = records.map { r in
            Item(record: r.id.hex, time: Timestamp.format(r.time), report: try? JSONDecoder().decode(VerifyReport.self, from: Data(r.json)))
        }
        if global.json { try Terminal.json(items); return 0 }
        for i in items {
            guard let r = i.report else { print("\(i.record.prefix(8))  \(i.time)  (unreadable)"); continue }
            let tables = r.databases.reduce(0) { $0 + $1.tables.count }
            print("\(i.record.prefix(8))  \(String(i.time.prefix(19)).replacingOccurrences(of: "T", with: " "))  \(r.ok ? "PASSED" : "FAILED")  snapshot \(r.snapshot.prefix(8))  \(r.databases.map(\.name).joined(separator: ","))  \(tables) tables\(r.deep ? " deep" : "")  on \(r.server)")
        }
        if items.isEmpty && !global.quiet { print("no restore verification yet: run `kura verify-restore`") }
        return 0
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
