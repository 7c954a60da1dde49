import ArgumentParser
import Foundation
import KuraRepository
import KuraRestorer

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a folder (or file) of a snapshot to standard output as a tar or tar.gz archive.",
        discussion: """
        Paths in the archive start at the dumped folder's name:
          kura dump latest:/srv/app/media --format tar.gz > media.tar.gz   (media/...)
        The archive is POSIX pax: long and non-UTF-8 names, nanosecond times and xattrs survive. POSIX ACLs are written twice: as the raw xattrs and as SCHILY.acl.access/default text (named users and groups by number), which GNU tar applies with `tar --acls -xf`. Files with holes are written as PAX sparse files (format 1.0, as GNU tar writes them): only the data is in the archive and GNU tar (and Python's tarfile) recreate the holes.
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SNAPSHOT[:PATH]") var source: String
    @Option(name: .long, help: "tar or tar.gz (anything else: exit 64)") var format: String = "tar"

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            guard let f = Dumper.Format(rawValue: format) else {
                throw KuraError(.usage, "--format \(format): unknown format; accepted values: \(Dumper.Format.allCases.map(\.rawValue).joined(separator: ", "))",
                                hint: "use --format tar or --format tar.gz")
            }
            if isatty(1) == 1 {
                throw KuraError(.invalidArgument, "refusing to write an archive to a terminal", hint: "redirect: kura dump \(source) > out.\(format)")
            }
            let repo = try await global.openRepository()
            let (ref, path) = SnapshotBrowser.split(source)
            let browser = SnapshotBrowser(repository: repo, snapshot: try await repo.findSnapshot(ref))
            let entry = try await browser.entry(at: path)
            try await Dumper(browser: browser).dump(entry, format: f) { try Terminal.writeStdout($0) }
            return 0
        }
    }
}
