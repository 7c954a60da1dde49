import ArgumentParser
import Foundation
import KuraRepository
import KuraRestorer

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show sizes: logical, after dedup, stored; dedup and compression ratios.",
        discussion: """
        Without a snapshot: over all snapshots. logical = what restoring every counted snapshot would write;
        unique = distinct chunk bytes; stored = bytes in packs after compression and encryption.
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A snapshot (default: all).") var snapshot: String?

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let repo = try await global.openRepository()
            try await repo.loadIndex()
            let list = snapshot == nil ? try await repo.listSnapshots() : [try await repo.findSnapshot(snapshot!)]
            let s = try await StatsCollector(repository: repo).collect(list)
            if global.json { try Terminal.json(s); return 0 }
            print("snapshots:          \(s.snapshots)")
            print("files:              \(s.files) (in \(s.directories) folders)")
            print("logical size:       \(Terminal.bytes(s.logicalBytes))")
            print("unique chunks:      \(s.uniqueChunks), \(Terminal.bytes(s.uniqueBytes))")
            print("stored in packs:    \(Terminal.bytes(s.storedBytes))")
            print("repository total:   \(Terminal.bytes(s.repositoryBytes))")
            print("dedup ratio:        \(String(format: "%.2f", s.dedupRatio))x")
            print("compression ratio:  \(String(format: "%.2f", s.compressionRatio))x")
            return 0
        }
    }
}
