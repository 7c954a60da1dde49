import ArgumentParser
import Foundation
import KuraPostgres
import KuraRepository

struct WALStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal-status",
        abstract: "Show the archived WAL: newest segment, its age, and gaps since the oldest base backup.",
        discussion: """
        lastArchivedAgeSeconds is the archive lag as the repository sees it: under steady writes it
        stays below archive_timeout; much more means archiving is failing (see the server log).
        A gap (a missing segment between the oldest physical base backup and the newest archived
        segment) means point-in-time recovery cannot cross it: take a new base backup.
        Exit codes: 0 continuous, 2 a gap or no base backup, 1 error.
          kura wal-status --config /etc/kura/kura.toml --json
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var wal: WALOptions

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let archive = try wal.archive(global) { Terminal.printError("kura: warning: \($0)") }
            let repo = try await archive.open()
            let s = try await repo.withLock(.shared) { _ in try await WALInspector(repository: repo).status() }
            if global.json { try Terminal.json(s) } else {
                print("archived WAL: \(s.files) file(s), \(s.segments) segment(s), \(Terminal.bytes(UInt64(s.storedBytes))) stored")
                if let last = s.lastSegment {
                    print("newest segment: \(last), archived \(s.lastArchived ?? "?") (\(s.lastArchivedAgeSeconds.map { String(format: "%.0f s ago", $0) } ?? "?"))")
                } else { print("newest segment: none archived yet") }
                print("base backups: \(s.baseBackups)\(s.oldestBaseStartWAL.map { ", the oldest needs WAL from \($0)" } ?? "")")
                if s.gaps.isEmpty { print(s.continuous ? "continuous: point-in-time recovery is possible from the oldest base backup to the newest segment" : "no base backup with a recorded WAL start: take one with `kura backup --postgres-physical DSN`") }
                for g in s.gaps { print("GAP: \(g.count) segment(s) missing, \(g.first) … \(g.last)") }
            }
            return s.continuous ? 0 : 2
        }
    }
}
