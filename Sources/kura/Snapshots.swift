import ArgumentParser
import Foundation
import KuraRepository

struct Snapshots: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List snapshots, oldest first.",
        discussion: "An id prefix of at least 4 digits, or `latest`, names a snapshot in other commands.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("Only snapshots of this host.", valueName: "name")) var host: String?
    @Option(name: .long, help: ArgumentHelp("Only snapshots with this tag (repeatable; any matches).", valueName: "tag")) var tag: [String] = []

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let repo = try await global.openRepository()
            let list = try await repo.listSnapshots(damaged: { id, error in
                Terminal.printError("kura: warning: snapshot \(id.short) cannot be read and is not listed: \(error.message) (see `kura check`; `kura forget \(id.short)` removes it)")
            }).filter { s in
                (host == nil || s.host == host) && (tag.isEmpty || !Set(tag).isDisjoint(with: s.tags))
            }
            if global.json {
                struct Out: Encodable { var id: String; var short: String; var snapshot: Snapshot }
                try Terminal.json(list.map { Out(id: $0.id?.hex ?? "", short: $0.id?.short ?? "", snapshot: $0) })
                return 0
            }
            print("ID        Time                 Host             Tags        Size        Paths")
            print(String(repeating: "-", count: 90))
            for s in list {
                let time = String(s.time.prefix(19)).replacingOccurrences(of: "T", with: " ")
                let size = s.summary.map { Terminal.bytes($0.totalBytes) } ?? ""
                let mark = s.incomplete ? " (incomplete)" : ""
                print("\(s.id?.short ?? "")  \(time)  \(s.host.padding(toLength: 15, withPad: " ", startingAt: 0))  \(s.tags.joined(separator: ",").padding(toLength: 10, withPad: " ", startingAt: 0))  \(size.padding(toLength: 10, withPad: " ", startingAt: 0))  \(s.paths.joined(separator: " "))\(mark)")
            }
            print(String(repeating: "-", count: 90))
            print("\(list.count) snapshots")
            return 0
        }
    }
}
