import ArgumentParser
import Foundation
import KuraRepository
import KuraRestorer

struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what changed between two snapshots.",
        discussion: """
        One line per change: + added, - removed, M content changed, U metadata changed, T type changed. When a folder became a file (or the other way round), its old contents are listed as removed and the new ones as added, after the T line. Control characters in names are escaped.
          kura diff 1a2b3c4d latest
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The older snapshot.") var first: String
    @Argument(help: "The newer snapshot.") var second: String

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let repo = try await global.openRepository()
            let a = try await repo.findSnapshot(first), b = try await repo.findSnapshot(second)
            guard let ta = a.treeID, let tb = b.treeID else { throw KuraError(.corrupt, "a snapshot has a malformed tree id") }
            try await repo.loadIndex()
            var changes: [Difference] = []
            try await Differ(repository: repo).diff(ta, tb, into: &changes)
            if global.json {
                struct Out: Encodable { var kind: String; var path: String }
                try Terminal.json(changes.map { Out(kind: $0.kind.rawValue, path: $0.displayPath) })
            } else {
                for c in changes { print("\(c.kind.rawValue)  \(Terminal.escapingControls(c.displayPath, keepingLayout: false))") }
                if !global.quiet {
                    let counts = Dictionary(grouping: changes, by: \.kind).mapValues(\.count)
                    print("\(counts[.added] ?? 0) added, \(counts[.removed] ?? 0) removed, \(counts[.modified] ?? 0) modified, \((counts[.metadata] ?? 0) + (counts[.typeChanged] ?? 0)) other")
                }
            }
            return 0
        }
    }
}
