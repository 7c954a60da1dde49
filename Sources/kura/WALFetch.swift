import ArgumentParser
import Foundation
import KuraPostgres
import KuraRepository

struct WALFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal-fetch",
        abstract: "Write one archived WAL file to a path (for restore_command).",
        discussion: """
        restore_command = 'kura wal-fetch %f %p --config /etc/kura/kura.toml'
        (restore-physical --to-time/--to-lsn/--to-latest writes this line for you.) The file is written
        to a temporary name beside DEST, fsynced and renamed, so PostgreSQL never reads half a segment.
        Looks in the WAL spool first, then the repository.
        Exit codes: 0 written; 1 no such WAL file (the normal end of the archive: recovery stops
        there); 126 any other failure (repository unreachable, damaged object, wrong password) —
        PostgreSQL then stops recovery instead of ending it early at the wrong point; fix the cause and
        start the server again.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var wal: WALOptions
    @Argument(help: "The WAL file's name (%f).") var name: String
    @Argument(help: "Where to write it (%p).") var destination: String

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            do {
                let archive = try wal.archive(global) { Terminal.printError("kura: warning: \($0)") }
                let r = try await archive.fetch(name: name, to: destination)
                if global.json {
                    struct Out: Encodable { var name: String; var bytes: Int; var fromSpool: Bool }
                    try Terminal.json(Out(name: name, bytes: r.bytes, fromSpool: r.fromSpool))
                }
                return 0
            } catch let e as KuraError where e.code == .notFound {
                if global.json {
                    struct Out: Encodable { var name: String; var found: Bool }
                    try Terminal.json(Out(name: name, found: false))
                }
                if !global.quiet { Terminal.printError("kura: \(e.message)") }
                return 1
            } catch {
                let e = KuraError.from(error)
                Terminal.printError("kura: " + Terminal.escapingControls(e.description))
                return 126
            }
        }
    }
}
