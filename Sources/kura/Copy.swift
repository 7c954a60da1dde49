import ArgumentParser
import Foundation
import KuraCopier
import KuraOperations
import KuraRepository
import KuraStore

struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy snapshots to another repository, storing only the data it lacks.",
        discussion: """
        Copies the selected snapshots (default: all) of the repository (--repo) into the one at --to, with only the blobs the target does not have yet: nothing is re-chunked, each blob is read and decrypted here, its SHA-256 checked, and stored encrypted with the target's key under the same id. Each snapshot is saved in the target only after all its data is stored and indexed, with the same time, host, paths and tags, and records the snapshot it was copied from: a snapshot already copied is skipped, so running the copy again copies nothing new.

        A copy that was killed or failed midway resumes: the data it stored is indexed every few packs and not sent again. At the end the copied snapshots are checked in the target (every blob they refer to is in its index; with --verify-data every blob is read back and its hash checked).

        The copy only adds objects to the target (packs, index files, snapshots) and deletes nothing but its own lock objects, so it works with storage credentials that may write and read but not delete or overwrite (see docs/offsite.md).

        Into an S3 bucket created with Object Lock, --retention 30d locks every object the copy uploads (all but lock objects) for 30 days: nobody can delete or overwrite those versions before then — in compliance mode not even the account's root; in governance mode (the default) only a principal allowed s3:BypassGovernanceRetention. Before it trusts the target's index, the copy lists the target's packs once, so blobs in packs the target lost are sent again.

        Create the target with the source's chunker secret, so that later backups into it deduplicate against the copied data (a copy works anyway, and warns):
          kura init --repo /mnt/offsite/kura --copy-chunker-params-from /backup/kura

        The target's password: --to-password-file, else $KURA_TO_PASSWORD_FILE, else the source's password.
          kura copy --to /mnt/offsite/kura
          kura copy --to /mnt/offsite/kura latest --verify-data
          kura copy --to /mnt/offsite/kura --source app --to-password-file pw-off
          kura copy --to /mnt/offsite/kura --tag daily --json
          kura copy --to s3:https://s3.example.com/offsite/kura --retention 30d

        Exit codes: 10 when either repository does not exist, 11 when either is locked against the copy (a gc or forget holding it), 12 when a password does not open it.
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshots to copy: `latest` or id prefixes (default: all).") var snapshots: [String] = []
    @Option(name: .long, help: ArgumentHelp("The target repository's location.", valueName: "location")) var to: String
    @Option(name: .long, help: ArgumentHelp("Only snapshots of this configuration source (tagged source:NAME by `kura run`).", valueName: "name")) var source: String?
    @Option(name: .long, help: ArgumentHelp("Only snapshots with this tag (repeatable: all of them).", valueName: "tag")) var tag: [String] = []
    @Option(name: .long, help: ArgumentHelp("Only snapshots of this host (repeatable: any of them).", valueName: "name")) var host: [String] = []
    @Option(name: .long, help: ArgumentHelp("Read the target's password from this file (first line; mode 0600). Also $KURA_TO_PASSWORD_FILE; else the source's password.", valueName: "file"))
    var toPasswordFile: String?
    @Flag(name: .long, help: "After copying, read every blob of the copied snapshots back from the target and check its SHA-256.") var verifyData = false
    @Option(name: .long, help: ArgumentHelp("S3 targets in a bucket with Object Lock: lock every uploaded object (but lock objects) for this long, e.g. 30d.", valueName: "duration"))
    var retention: String?
    @Option(name: .long, help: ArgumentHelp("With --retention: compliance (nobody can delete before it ends, root included) or governance (only with s3:BypassGovernanceRetention). Default: governance.", valueName: "mode"))
    var retentionMode: String?

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            // Both repositories must exist before any password is asked for.
            let objectLock = try objectLockOption()
            let sourceStore = try global.store()
            _ = try await Repository.readConfig(store: sourceStore)
            let targetStore: any ObjectStore
            do {
                var s3 = global.s3Options
                s3.objectLock = objectLock
                targetStore = try StoreFactory.open(to, options: StoreOptions(onRetry: { Terminal.printError("kura: warning: \($0)") }, s3: s3))
                _ = try await Repository.readConfig(store: targetStore)
            } catch let e as KuraError where e.code == .noRepository {
                throw KuraError(.noRepository, "there is no kura repository at \(to) to copy to",
                                hint: "create it with `kura init --repo \(to) --copy-chunker-params-from \(global.repositoryLocation)` (so that both cut data the same way); nothing was copied")
            } catch { throw KuraError.from(error) }

            let password = try global.password()
            let repo = try await global.openRepository(password: password)
            var targetPassword = password
            let env = ProcessInfo.processInfo.environment
            if let file = toPasswordFile ?? env["KURA_TO_PASSWORD_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
                // The one password rule, with the target's file as the only source.
                targetPassword = try PasswordSource(passwordFile: file, environment: [:]).password()
            }
            let target: Repository
            do { target = try await Repository.open(store: targetStore, password: targetPassword, cacheDirectory: global.cacheDirectory,
                                                     keyCache: global.passwordSource().allowsKeyCache) } catch let e as KuraError where e.code == .wrongPassword {
                throw KuraError(.wrongPassword, "wrong password for the copy target \(to): no key there opens with it",
                                hint: "give the target's password with --to-password-file or KURA_TO_PASSWORD_FILE (without them the source's password is used); nothing was copied")
            }
            target.setWarningHandler { Terminal.printError("kura: warning: \($0) (target)") }

            var options = CopyOptions()
            options.snapshots = snapshots
            options.tags = tag
            options.sourceName = source
            options.hosts = host
            options.verifyData = verifyData
            let quiet = global.quiet || global.json
            let started = Date()
            var report = try await Copier(source: repo, target: target, options: options) { line in
                if line.hasPrefix("warning: ") { Terminal.printError("kura: " + line) } else if !quiet { print(line) }
            }.run()
            report.retention = objectLock.map { CopyReport.Retention(mode: $0.mode.rawValue, seconds: $0.retentionSeconds) }
            if global.json {
                try Terminal.json(report)
            } else if !global.quiet {
                print("copied \(report.snapshotsCopied) snapshots, skipped \(report.snapshotsSkipped) already in the target; "
                      + "\(report.blobsCopied) blobs, \(Terminal.bytes(report.bytesCopied)) (\(Terminal.bytes(report.bytesStored)) stored)"
                      + String(format: " in %.2f s", Date().timeIntervalSince(started)))
                if let lock = objectLock {
                    print("every object uploaded (lock objects aside) is locked in \(lock.mode.rawValue) mode for \(retention ?? "") after its upload")
                }
                let v = report.verification
                if v.snapshots > 0 {
                    print("verified \(v.snapshots) copied snapshots in the target: \(v.trees) trees and \(v.dataBlobs) data blobs indexed"
                          + (v.readData ? "; read back \(v.blobsRead) blobs (\(Terminal.bytes(v.bytesRead))), hashes match" : ""))
                }
            }
            return 0
        }
    }

    /// `--retention` and `--retention-mode` as an Object Lock retention (S3 targets only).
    func objectLockOption() throws -> S3ObjectLock? {
        guard let retention else {
            if retentionMode != nil { throw KuraError(.usage, "--retention-mode needs --retention", hint: "e.g. --retention 30d --retention-mode compliance") }
            return nil
        }
        let lock = try ConfigurationParser.objectLock(retention: retention, mode: retentionMode, option: "--retention", modeOption: "--retention-mode")
        guard case .s3 = try StoreLocation(parsing: to) else {
            throw KuraError(.usage, "--retention works only for an S3 target (an Object Lock retention), and \(to) is not one",
                            hint: "a local or mounted target keeps nothing from deletion; nothing was copied")
        }
        return lock
    }
}
