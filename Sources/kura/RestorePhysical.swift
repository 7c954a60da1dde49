import ArgumentParser
import Foundation
import KuraPostgres
import KuraRepository

struct RestorePhysical: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-physical",
        abstract: "Lay out a PostgreSQL data directory from a `backup --postgres-physical` snapshot.",
        discussion: """
        Unpacks the snapshot's base.tar (data files and the WAL that makes them consistent) into DIR,
        which must be new or empty, with mode 0700. Run as root, the files get the owner recorded in
        the backup (by name, e.g. postgres). Then, as that user:
          pg_ctl -D DIR start
        A Debian-style cluster keeps postgresql.conf outside the data directory: start it with
          pg_ctl -D DIR -o '-c config_file=/etc/postgresql/15/main/postgresql.conf' start
        or copy the configuration files in. --verify runs pg_verifybackup on the result.
          kura restore-physical latest --target /var/lib/postgresql/15/restored
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SNAPSHOT (default: the newest physical PostgreSQL snapshot).") var snapshot: String?
    @Option(name: [.customShort("t"), .long], help: ArgumentHelp("New or empty folder for the data directory.", valueName: "dir")) var target: String
    @Flag(name: .long, help: "Check the restored files against the backup manifest with pg_verifybackup.") var verify = false

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let repo = try await global.openRepository()
            let snap = try await latestSnapshot(repo, reference: snapshot, source: "postgres-physical")
            let line = ProgressLine(enabled: !global.quiet && !global.json)
            let result = try await PhysicalRestorer(repository: repo).restore(snapshot: snap, target: target) { bytes in
                line.update("\(Terminal.bytes(bytes)) restored")
            }
            line.finish()
            var verified: Bool?
            if verify {
                verified = try await PostgresTools().verifyBackup(dataDirectory: result.target)
            }
            if global.json {
                struct Out: Encodable { var snapshot: String; var result: PhysicalRestoreResult; var verified: Bool? }
                try Terminal.json(Out(snapshot: snap.id?.hex ?? "", result: result, verified: verified))
            } else if !global.quiet {
                print("restored PostgreSQL \(result.serverVersion ?? "") data directory from snapshot \(snap.id?.short ?? "") into \(result.target): \(result.files) files, \(result.directories) folders, \(Terminal.bytes(result.bytes)) in \(String(format: "%.1f", result.seconds)) s")
                if let verified { print(verified ? "pg_verifybackup: the files match the backup manifest" : "pg_verifybackup FAILED (see above)") }
                print("start it with: \(result.owner.map { "runuser -u \($0) -- " } ?? "")pg_ctl -D \(result.target) start")
            }
            return verified == false ? 1 : 0
        }
    }
}
