import ArgumentParser
import Foundation
import KuraRepository

struct Unlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove stale locks (of processes that died or stopped refreshing them).",
        discussion: "A lock is stale when it was not refreshed for 30 minutes, or when its process provably no longer runs: same machine (host name and boot id) and same PID namespace, and the PID is gone or reused. A lock of a process in a container or another PID namespace is judged by age only. --remove-all removes every lock: only when you are sure no kura process uses the repository (see docs/design.md §9).")
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
