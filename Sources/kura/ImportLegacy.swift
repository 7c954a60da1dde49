import ArgumentParser
import Foundation
import KuraOperations
import KuraRepository

struct ImportLegacy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-legacy",
        abstract: "Import old *.sql.gz dumps and *.tar.gz archives as snapshots with their original times.",
        discussion: """
        Every *.sql.gz below DIR becomes a snapshot holding the decompressed dump as one file; every *.tar.gz (or .tgz) becomes a snapshot of the archive's files with their owners, modes and times, built straight from the archive (nothing is extracted). The snapshot's time is the date in the file name (app_2025-03-01_1700.sql.gz, media-20250301.tar.gz; in the configuration's time zone), else the file's modification time.

        Snapshots are tagged `imported` and source:NAME — the --source given, else the configured source whose name, volume or database equals the name part of the file — so they share the source's retention and status. Archives go under that source's path (a volume's <docker root>/volumes/<name>/_data), or --path, or /legacy/<name>. Importing the same file again does nothing (its SHA-256 is recorded in a legacy-sha256: tag); a different file with the same name and date is imported, with a warning.

        A file whose name dates it more than a day in the future is refused. A file that cannot be read (truncated gzip, damaged tar) is reported and skipped, the rest is imported, and the exit code is 1.

        Without a configuration file (none at --config, $KURA_CONFIG or /etc/kura/kura.toml) the repository and password come from --repo/$KURA_REPOSITORY and the usual password rule, times are read in $TZ/the system's zone, and --source NAME only sets the tag source:NAME.
          kura import-legacy /backup/old --dry-run
          kura import-legacy /backup/old/db --source db
          kura import-legacy /backup/old/volumes --source volumes --strip-components 1
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ConfigOptions
    @Argument(help: "Folder with the old dumps and archives (searched recursively).") var directory: String
    @Option(name: .long, help: ArgumentHelp("Attach every file to this configured source.", valueName: "name")) var source: String?
    @Option(name: .long, help: ArgumentHelp("Put archive contents at this absolute path in the snapshots.", valueName: "path")) var path: String?
    @Option(name: .long, help: ArgumentHelp("Drop this many leading path components of archive entries (as tar does).", valueName: "n")) var stripComponents = 0
    @Option(name: .long, help: ArgumentHelp("Host name to record (default: the configuration's, else this machine's).", valueName: "name")) var host: String?
    @Flag(name: .long, help: "Show what would be imported, write nothing.") var dryRun = false

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            // The configuration is optional: without one (none named, none at the default place), the
            // repository and password come from the global options like every other command.
            let standalone = options.config == nil && (ProcessInfo.processInfo.environment["KURA_CONFIG"] ?? "").isEmpty
                && !FileManager.default.fileExists(atPath: options.path)
            var config = Configuration()
            if standalone { config.repository = global.repositoryLocation } else { config = try options.load() }
            if let p = path, !p.hasPrefix("/") { throw KuraError(.invalidArgument, "--path must be absolute") }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
                throw KuraError(.notFound, "\(directory) is not a folder")
            }
            let env = options.environment(config, global)
            let repo = standalone ? try await global.openRepository() : try await Resources.openRepository(config, env)
            var importer = LegacyImporter(repository: repo, config: config, host: host ?? Resources.host(config))
            importer.stripComponents = stripComponents
            importer.dryRun = dryRun
            let plan = try importer.plan(directory: directory, source: source, targetPath: path)
            if plan.isEmpty {
                if global.json { try Terminal.json([LegacyImporter.Item]()) } else if !global.quiet { print("no *.sql.gz or *.tar.gz files below \(directory)") }
                return 0
            }
            let quiet = global.quiet || global.json
            let zone = config.timeZone
            let dry = dryRun
            let done: [LegacyImporter.Item]
            do {
                let json = global.json
                done = try await importer.run(plan) { item in
                    if !json { for w in item.warnings { Terminal.printError("kura: warning: \((item.file as NSString).lastPathComponent): \(Terminal.escapingControls(w))") } }
                    if let error = item.error {
                        if !json { Terminal.printError("kura: error: \((item.file as NSString).lastPathComponent): \(Terminal.escapingControls(error))") }
                        return
                    }
                    guard !quiet else { return }
                    let when = ConfigChecker.format(item.time, zone)
                    let what = item.skipped ?? (dry ? "would import as \(item.path)" : "snapshot \(item.snapshot?.prefix(8) ?? "") \(item.path), \(item.files) files, \(Terminal.bytes(item.bytes))")
                    print("\((item.file as NSString).lastPathComponent)  \(when) (from \(item.timeFrom))  \(item.source.map { "source \($0)" } ?? "no source")  \(what)")
                }
            }
            if global.json {
                let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]; enc.dateEncodingStrategy = .iso8601
                try Terminal.writeStdout(Array(try enc.encode(done)) + [10])
            } else if !global.quiet {
                let imported = done.filter { $0.skipped == nil && $0.snapshot != nil }.count
                print(dryRun ? "\(done.filter { $0.skipped == nil && $0.error == nil }.count) files would be imported" : "imported \(imported) files, \(done.filter { $0.skipped != nil }.count) already there")
            }
            let failed = done.filter { $0.error != nil }
            if !failed.isEmpty {
                // Printed even with --quiet: the run did not do everything it was asked to.
                Terminal.printError("kura: error: \(failed.count) file\(failed.count == 1 ? "" : "s") could not be imported: "
                                    + failed.map { ($0.file as NSString).lastPathComponent }.joined(separator: ", ")
                                    + "\nhint: the other files were imported; repair or move these away and run import-legacy again (what was imported is skipped)")
                return 1
            }
            return 0
        }
    }
}
