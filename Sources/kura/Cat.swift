import ArgumentParser
import Foundation
import KuraRepository
import KuraRestorer

struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one file of a snapshot to standard output.",
        discussion: """
        Loads only the trees on the file's path and the file's own chunks: no mount, no full restore.
          kura cat latest:/var/lib/app/config.json
          kura cat 1a2b3c4d:/postgres/app.dump > app.dump
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SNAPSHOT:PATH") var target: String

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let (ref, path) = SnapshotBrowser.split(target)
            guard target.contains(":"), path != [47] else {
                throw KuraError(.invalidArgument, "name a file: SNAPSHOT:PATH", hint: "e.g. kura cat latest:/etc/hosts; list files with `kura ls`")
            }
            let repo = try await global.openRepository()
            let browser = SnapshotBrowser(repository: repo, snapshot: try await repo.findSnapshot(ref))
            let entry = try await browser.entry(at: path)
            guard let node = entry.node, node.type == .file else {
                throw KuraError(.invalidArgument, "\(PathBytes.display(path)) is not a file", hint: "use `kura ls` for folders, `kura dump` for an archive of one")
            }
            try await ContentStreamer(repository: repo).stream(node.content) { try Terminal.writeStdout($0) }
            return 0
        }
    }
}
