import ArgumentParser
import Foundation
import KuraFileSystem
import KuraOperations
import KuraRepository
import KuraRestorer

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a snapshot, or part of it, into a folder.",
        discussion: """
        `kura restore SNAP --target DIR` recreates the backed-up absolute paths under DIR (/srv/app/a.jpg becomes DIR/srv/app/a.jpg). `SNAP:/srv/app` restores that folder's contents into DIR (a single file goes to DIR/NAME). --include restores only matching entries (and everything inside matching folders):
          kura restore latest --target /tmp/r --include '*.json' --include '/srv/app/media/2026*'
          kura restore latest --target /tmp/r --include 'media/**/*.jpg'

        Patterns (the language of backup --exclude too, modelled on restic's; see docs/patterns.md): * ? and [a-z] match within one name, ** any number of folders; a pattern that starts with / is matched from the snapshot's root, any other at any depth ('sub/b.txt' matches /x/sub/b.txt). An invalid pattern ('[') is a usage error (exit 64); a pattern that matched nothing is reported on stderr.

        Restored: file contents (holes stay holes), folders, symlinks, hard links, FIFOs, device nodes, mode bits, owner (by name if it exists here, else by number; as root), mtime with nanoseconds, extended attributes and ACLs.

        With no arguments on a terminal (or with --interactive) kura asks instead: what broke (a database, files or a Docker volume, everything), back to when (the source's snapshots, newest first, with size, full or incremental, the last check and a verified-restore mark), what exactly (whole or some tables/paths from a filterable list), and where (a new database or folder, the default, or in place). It then shows a summary with the equivalent command and asks for confirmation; in place it asks you to type the source name, first saves a safety snapshot (tagged before-restore) of what is there now and prints how to undo, and stops and restarts the containers that use a Docker volume. Sources come from kura.toml (--config, $KURA_CONFIG, /etc/kura/kura.toml), or from the repository's snapshots when there is none. Keyboard only, plain text (80x24 over SSH is enough); q cancels before anything changes (exit 130). See docs/restore-wizard.md. The equivalent commands:
          kura restore SNAP --target DIR [--include PATH ...]          files into a new folder
          kura restore SNAP:PATH --target PATH [--include ...]         files in place (per path)
          kura restore-db SNAP:DB --into NEW --create [--table T ...]  a database into a new one
          kura restore-db SNAP:DB --into DB --clean --create           a database in place

        Whatever is in the way under DIR is replaced by the snapshot's entry: a file, a symlink (the link itself, never what it points to) or a folder with all its contents (removed with *at calls that never follow a symlink and never cross into another mounted filesystem). Files are written as unnamed files (O_TMPFILE; a temporary name where the file system has none) and renamed into place when complete, so a file that cannot be restored (damaged data) is reported as an error and leaves no partial copy, and a restore killed midway (kill -9, power loss) leaves no temporary files behind.
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var configOptions: ConfigOptions
    @Argument(help: "SNAPSHOT[:PATH] (leave out on a terminal for the interactive restore)") var source: String?
    @Option(name: [.customShort("t"), .long], help: ArgumentHelp("Folder to restore into.", valueName: "dir")) var target: String?
    @Flag(name: .long, help: "Ask what to restore, from when, what exactly and where (the default with no arguments on a terminal).") var interactive = false
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Restore only entries matching this pattern (repeatable; see docs/patterns.md).", valueName: "pattern"))
    var include: [String] = []

    func validate() throws {
        if interactive || (source == nil && target == nil && isatty(0) == 1) {
            if global.json { throw ValidationError("--json needs SNAPSHOT and --target: the interactive restore talks plain text") }
            return
        }
        guard source != nil else { throw ValidationError("Missing expected argument '<source>' (on a terminal, `kura restore` alone asks interactively)") }
        guard target != nil else { throw ValidationError("Missing expected argument '--target <dir>'") }
    }

    func run() async throws {
        guard let source, let target, !interactive else {
            try await runReportingErrors(json: global.json) { try await RestoreInteractive(global: global, options: configOptions).run() }
            return
        }
        try await runReportingErrors(json: global.json) {
            try PathMatcher.validate(include, option: "--include")  // exit 64 before asking for a password
            let repo = try await global.openRepository()
            let (ref, path) = SnapshotBrowser.split(source)
            let browser = SnapshotBrowser(repository: repo, snapshot: try await repo.findSnapshot(ref))
            let entry = try await browser.entry(at: path)
            var options = RestoreOptions(target: target)
            options.includes = include
            let line = ProgressLine(enabled: !global.quiet && !global.json)
            let started = Date()
            let result = try await Restorer(repository: repo, options: options) { r in
                line.update("\(r.files) files, \(Terminal.bytes(r.bytes)) restored")
            }.restore(browser, entry: entry)
            line.finish()
            let seconds = Date().timeIntervalSince(started)
            if global.json {
                struct Out: Encodable { var files, directories, otherEntries: Int; var bytes: UInt64; var seconds: Double; var errors, warnings: [String] }
                try Terminal.json(Out(files: result.files, directories: result.directories, otherEntries: result.otherEntries,
                                      bytes: result.bytes, seconds: seconds, errors: result.errors, warnings: result.warnings))
            } else {
                for w in result.warnings { Terminal.printError("kura: warning: \(w)") }
                for e in result.errors { Terminal.printError("kura: error: \(e)") }
                if !global.quiet {
                    print("restored \(result.files) files, \(result.directories) folders, \(result.otherEntries) other entries, \(Terminal.bytes(result.bytes)) in \(String(format: "%.2f", seconds)) s")
                }
            }
            return result.errors.isEmpty ? 0 : 1
        }
    }
}
