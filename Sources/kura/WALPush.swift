import ArgumentParser
import Foundation
import KuraPostgres
import KuraRepository

struct WALPush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal-push",
        abstract: "Archive one PostgreSQL WAL file into the repository (for archive_command).",
        discussion: """
        In postgresql.conf:
          archive_mode = on
          archive_command = 'kura wal-push --config /etc/kura/kura.toml %p'
        Exits 0 only once the file is durable in the repository (the local store fsyncs file and
        folder; S3 acknowledged the PUT), or — with a spool (wal-spool in the configuration, or
        --spool) — durable in the spool because the repository could not be written. Any other
        outcome exits non-zero and PostgreSQL keeps the file and retries: kura never drops WAL.
        Pushing a file that is already archived with the same contents succeeds (a retry after a
        crash); with different contents it fails (exit 1), except for a .partial file.
        A full spool fails the push loudly ("WAL SPOOL FULL"): PostgreSQL keeps the WAL in pg_wal.
          kura wal-push --flush --config /etc/kura/kura.toml     send what the spool holds
        Exit codes: 0 archived (or spooled), 1 failed, 10 no repository, 11 locked (without a spool), 12 wrong password.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var wal: WALOptions
    @Argument(help: "The WAL file to archive (%p).") var path: String?
    @Argument(help: "Its name (%f; default: the file name of PATH).") var name: String?
    @Flag(name: .long, help: "Send the files waiting in the spool to the repository, oldest first.") var flush = false

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let archive = try wal.archive(global) { Terminal.printError("kura: WARNING: \($0)") }
            if flush {
                let sent = try await archive.flush()
                if global.json {
                    struct Out: Encodable { var flushed: [String] }
                    try Terminal.json(Out(flushed: sent))
                } else if !global.quiet { print("sent \(sent.count) spooled WAL file(s) to the repository") }
                if path == nil { return 0 }
            }
            guard let path else { throw KuraError(.usage, "give the WAL file to archive (%p), or --flush") }
            let result = try await archive.push(path: path, name: name)
            if global.json { try Terminal.json(result) } else if !global.quiet {
                print("\(result.name): \(result.outcome)\(result.drained.isEmpty ? "" : " (after \(result.drained.count) spooled file(s))")\(result.spoolFiles > 0 ? "; \(result.spoolFiles) file(s) wait in the spool" : "")")
            }
            return 0
        }
    }
}
