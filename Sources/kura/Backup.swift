import ArgumentParser
import Foundation
import KuraArchiver
import KuraFileSystem
import KuraPostgres
import KuraRepository

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up files and directories, or a command's output, into a new snapshot.",
        discussion: """
        Paths are stored as absolute paths, as given: `kura backup /srv/app` makes /srv/app/... in the snapshot. Symlinked folders above a path are followed (`/var/run/x` with /var/run → /run is read from /run/x and stored as /var/run/x); a path that is itself a symlink is stored as a link (a warning says so). Files that report size 0 but have content (/proc, /sys) are stored with what a read returns.
        Only chunks the repository does not have yet are stored. Files whose size, mtime, ctime and inode are the same as in the parent snapshot (the newest one of this host with the same paths) are not read again; --force-reread reads everything (use it for a weekly "full").

        Back up a command's output as one file (no temporary file; a failing command saves no snapshot):
          kura backup --stdin-filename app.sql --stdin-from-command -- pg_dump -Fp app

        Back up PostgreSQL consistently (see docs/postgres.md; restore with restore-db, prove with verify-restore):
          kura backup --postgres 'host=db user=backup' --all-databases
          kura backup --postgres-physical 'host=db user=replicator'

        Exit codes: 0 saved; 3 saved, but some entries could not be read (the snapshot is marked incomplete and lists them); 1 failed, nothing saved; 10/11/12 see `kura --help`.
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Files and directories to back up.") var paths: [String] = []
    @Option(name: .long, help: ArgumentHelp("Tag the snapshot (repeatable).", valueName: "tag")) var tag: [String] = []
    @Option(name: .long, help: ArgumentHelp("Host name to record (default: this machine's).", valueName: "name")) var host: String?
    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Exclude entries matching a pattern (repeatable): '*.log', 'cache/', '/srv/app/tmp', '**/node_modules'. A pattern without a leading '/' matches at any depth. See docs/patterns.md.", valueName: "pattern"))
    var exclude: [String] = []
    @Flag(name: [.customShort("x"), .long], help: "Stay on the file system of each path (mount points are kept empty).")
    var oneFileSystem = false
    @Flag(name: .long, help: "Read and hash every file, even those unchanged since the parent snapshot (a \"full\" backup).")
    var forceReread = false
    @Option(name: .long, help: ArgumentHelp("Compare with this snapshot instead of the newest one of this host with the same paths.", valueName: "snapshot"))
    var parent: String?
    @Option(name: .long, help: ArgumentHelp("Record this snapshot time instead of now (RFC 3339, e.g. 2026-11-27T02:00:00Z): for importing old copies and for tests of time-based restores and retention.", valueName: "time"))
    var time: String?
    @Option(name: .long, help: ArgumentHelp("Store the command's output under this file name.", valueName: "name")) var stdinFilename: String?
    @Flag(name: .long, help: "Run the command after -- and store its standard output (needs --stdin-filename).")
    var stdinFromCommand = false
    @OptionGroup(title: "PostgreSQL") var postgres: PostgresBackupArguments

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            try PathMatcher.validate(exclude, option: "--exclude")  // exit 64 before asking for a password
            let when = try time.map { t -> Date in
                guard let d = Timestamp.parse(t) else { throw KuraError(.usage, "--time \(t) is not an RFC 3339 time", hint: "for example 2026-11-27T02:00:00Z or 2026-11-27T03:00:00+01:00") }
                return d
            }
            let repo = try await global.openRepository()
            var options = BackupOptions(paths: paths)
            options.time = when
            options.tags = tag
            options.host = host
            options.excludes = exclude
            options.oneFileSystem = oneFileSystem
            options.forceReread = forceReread
            options.parent = parent
            let line = ProgressLine(enabled: !global.quiet && !global.json)
            let started = Date()
            let archiver = Archiver(repository: repo, options: options) { p in
                let rate = Double(p.bytesRead) / max(0.001, Date().timeIntervalSince(started))
                line.update("\(p.files) files, \(Terminal.bytes(p.bytesRead)) read (\(Terminal.bytes(UInt64(rate)))/s), \(Terminal.bytes(p.bytesNew)) new  \(p.currentPath)")
            }
            let result: BackupResult
            do {
                if postgres.isRequested {
                    result = try await postgres.run(archiver: archiver, paths: paths, quiet: global.quiet || global.json)
                } else if stdinFromCommand || stdinFilename != nil {
                    guard stdinFromCommand, let name = stdinFilename else {
                        throw KuraError(.invalidArgument, "--stdin-filename and --stdin-from-command go together", hint: "kura backup --stdin-filename NAME --stdin-from-command -- CMD ARGS...")
                    }
                    result = try await archiver.runCommand(paths, filename: name)
                } else {
                    try postgres.validateAlone()
                    for dir in LiveDataDirectory.find(in: paths, excludes: exclude) { Terminal.printError("kura: " + LiveDataDirectory.warning(for: dir)) }
                    result = try await archiver.run()
                }
            } catch {
                line.finish()
                throw error
            }
            line.finish()
            report(result)
            return result.exitCode
        }
    }

    private func report(_ result: BackupResult) {
        let s = result.snapshot
        if global.json {
            struct Out: Encodable {
                var snapshot: String; var time: String; var paths: [String]; var incomplete: Bool
                var errors: [Snapshot.ReadError]; var warnings: [String]; var summary: Snapshot.Summary?
            }
            try? Terminal.json(Out(snapshot: s.id?.hex ?? "", time: s.time, paths: s.paths, incomplete: s.incomplete,
                                   errors: result.errors, warnings: result.warnings, summary: s.summary))
            return
        }
        for w in result.warnings { Terminal.printError("kura: warning: \(w)") }
        for e in result.errors { Terminal.printError("kura: could not read \(e.path): \(e.message)") }
        guard !global.quiet, let sum = s.summary else { return }
        print("snapshot \(s.id?.short ?? "") saved\(s.incomplete ? " (INCOMPLETE: \(result.errors.count) entries could not be read)" : "")")
        print("  files \(sum.files) (\(sum.filesUnchanged) unchanged), dirs \(sum.directories), \(Terminal.bytes(sum.totalBytes)) processed in \(String(format: "%.2f", sum.durationSeconds)) s")
        print("  added \(Terminal.bytes(sum.bytesAdded)) in \(sum.blobsAdded) new blobs, \(Terminal.bytes(sum.bytesStored)) stored")
    }
}
