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

        Point-in-time recovery (needs WAL archived with `kura wal-push`):
          kura restore-physical latest --target DIR --to-time "2026-12-01 16:59:30" --config /etc/kura/kura.toml
        picks the newest base backup that finished before the time (with `latest`), lays it out, and
        writes restore_command = 'kura wal-fetch %f %p …' (with --config, or --repo and
        --password-file; never a password), recovery_target_time and recovery_target_action to
        postgresql.auto.conf and creates recovery.signal. Starting the server replays the archived WAL
        up to the target, then pauses (--action pause, the default: check, then
        `SELECT pg_wal_replay_resume()` to promote) or promotes (--action promote). --to-lsn LSN stops
        at a WAL position; --to-latest replays everything archived. A time without an offset is local
        time. With --verify, a scratch server (own socket folder, no TCP, archiving off) is started
        on the copy, recovery is awaited, every table is read and counted, and the server is stopped.
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SNAPSHOT (default: the newest physical PostgreSQL snapshot).") var snapshot: String?
    @Option(name: [.customShort("t"), .long], help: ArgumentHelp("New or empty folder for the data directory.", valueName: "dir")) var target: String
    @Flag(name: .long, help: "Check the restored files against the backup manifest with pg_verifybackup; with --to-…, start a scratch server and wait until recovery reaches the target.") var verify = false
    @Option(name: .long, help: ArgumentHelp("Recover to this time (\"2026-12-01 16:59:30\", local time unless an offset is given).", valueName: "time")) var toTime: String?
    @Option(name: .long, help: ArgumentHelp("Recover to this WAL position (e.g. 0/3000060).", valueName: "lsn")) var toLsn: String?
    @Flag(name: .long, help: "Recover every archived WAL file.") var toLatest = false
    @Option(name: .long, help: ArgumentHelp("At the target: pause (default) or promote.", valueName: "pause|promote")) var action = "pause"
    @OptionGroup var wal: WALOptions

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            if let recovery = try recoveryTarget() { return try await pointInTime(recovery) }
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

    private func recoveryTarget() throws -> RecoveryTarget? {
        let given = [toTime != nil, toLsn != nil, toLatest].filter { $0 }.count
        guard given <= 1 else { throw KuraError(.usage, "give one of --to-time, --to-lsn, --to-latest") }
        if let toTime {
            guard let d = RecoveryTarget.parseTime(toTime) else {
                throw KuraError(.invalidArgument, "'\(toTime)' is not a time", hint: "write it as \"2026-12-01 16:59:30\" (local time) or with an offset, \"2026-12-01 16:59:30+01:00\"")
            }
            return .time(d)
        }
        if let toLsn {
            guard let p = WALPosition(toLsn) else { throw KuraError(.invalidArgument, "'\(toLsn)' is not a WAL position", hint: "write it as PostgreSQL prints pg_lsn, e.g. 0/3000060") }
            return .lsn(p)
        }
        return toLatest ? .latest : nil
    }

    /// The restore_command: this kura binary, the same repository, and no secret (a config file, or a
    /// password file path; KURA_PASSWORD only from the server's environment).
    private func restoreCommand() -> String {
        func q(_ s: String) -> String { s.allSatisfy { $0.isLetter || $0.isNumber || "/._-:@=+,".contains($0) } ? s : "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var parts = [q(me), "wal-fetch", "%f", "%p"]
        if let config = wal.config {
            parts += ["--config", q(URL(fileURLWithPath: config).standardizedFileURL.path)]
        } else {
            let location = global.repositoryLocation
            parts += ["--repo", q(location.contains("://") ? location : URL(fileURLWithPath: location).standardizedFileURL.path)]
            let env = ProcessInfo.processInfo.environment
            if let file = global.passwordFile ?? env["KURA_PASSWORD_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
                parts += ["--password-file", q(URL(fileURLWithPath: file).standardizedFileURL.path)]
            } else {
                Terminal.printError("kura: warning: restore_command names no password file: the server must have KURA_PASSWORD or KURA_PASSWORD_FILE in its environment (give --password-file so the command carries the file's path)")
            }
            if let endpoint = global.s3Options.endpoint { parts += ["--s3-endpoint", q(endpoint)] }
        }
        if let spool = wal.spool { parts += ["--spool", q(spool)] }
        return parts.joined(separator: " ")
    }

    private func pointInTime(_ recovery: RecoveryTarget) async throws -> Int32 {
        let archive = try wal.archive(global) { Terminal.printError("kura: warning: \($0)") }
        let repo = try await archive.open()
        let pitr = PointInTimeRestore(repository: repo)
        let chosen: (snapshot: Snapshot, manifest: PhysicalManifest?)
        if let snapshot, snapshot != "latest" {
            let s = try await repo.findSnapshot(snapshot)
            chosen = try await pitr.baseBackups().first { $0.snapshot.id == s.id } ?? (s, nil)
        } else {
            chosen = try await pitr.chooseBase(for: recovery)
        }
        let line = ProgressLine(enabled: !global.quiet && !global.json)
        let result = try await pitr.restore(snapshot: chosen.snapshot, manifest: chosen.manifest, into: target, to: recovery, action: action,
                                            restoreCommand: restoreCommand()) { bytes in line.update("\(Terminal.bytes(bytes)) restored") }
        line.finish()
        var report: RecoveryReport?
        if verify {
            if !global.quiet && !global.json { Terminal.printError("starting a scratch server on \(result.restore.target) to replay WAL …") }
            report = try await RecoveryVerifier(dataDirectory: result.restore.target).verify(action: action)
        }
        if global.json {
            struct Out: Encodable { var result: PointInTimeResult; var verify: RecoveryReport? }
            try Terminal.json(Out(result: result, verify: report))
        } else if !global.quiet {
            print("restored base backup \(chosen.snapshot.id?.short ?? "") (finished \(result.baseFinished ?? "?"), needs WAL from \(result.startWAL ?? "?")) into \(result.restore.target) for point-in-time recovery:")
            for l in result.settings { print("  \(l)") }
            if let report {
                print("recovery \(report.reachedTarget ? "reached the target" : "did NOT reach the target") (\(report.state), replayed to \(report.replayedLSN ?? "?"), last commit \(report.lastReplayedCommit ?? "?")) in \(String(format: "%.1f", report.seconds)) s; \(report.tables.count) table(s) read")
                if let e = report.error { print("error: \(e)") }
            } else {
                print("start it with: \(result.restore.owner.map { "runuser -u \($0) -- " } ?? "")pg_ctl -D \(result.restore.target) start")
            }
        }
        if let report, !report.reachedTarget || report.error != nil { return 1 }
        return 0
    }
}
