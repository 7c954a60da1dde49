import ArgumentParser
import Foundation
import KuraRepository

struct Unlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove stale locks (of processes that died or stopped refreshing them).",
        discussion: "A lock is stale when its process no longer runs on this host, or it was not refreshed for 30 minutes. --remove-all removes every lock: only when you are sure no kura process uses the repository.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Remove all locks, not only stale ones.") var removeAll = false
    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let repo = try await global.openRepository()
            let removed = try await repo.removeLocks(all: removeAll)
            if global.json { try Terminal.json(["removed": removed]) } else if !global.quiet {
                print(removed.isEmpty ? "no stale locks" : "removed \(removed.count) locks")
            }
            return 0
        }
    }
}
