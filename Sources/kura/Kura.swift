import ArgumentParser
import CKuraSystem
import Foundation
import KuraCore

/// The process entry point: tunes the allocator, then hands over to the argument parser.
@main
enum KuraMain {
    static func main() async {
        kura_tune_malloc()
        // SIGINT/SIGTERM/SIGHUP: stop children, release locks (the registered termination actions),
        // say so, exit 128+signal. Nothing is committed after a signal: the snapshot is the commit point.
        Termination.installSignalHandlers { signal, actions in
            let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"][signal] ?? "signal \(signal)"
            var text = "kura: interrupted by \(name)"
            if !actions.isEmpty { text += "; " + actions.joined(separator: "; ") }
            text += ". The interrupted step saved no snapshot; snapshots saved before are intact, and data already stored is reused by the next run."
            FileHandle.standardError.write(Data((text + "\n").utf8))
            exit(128 + signal)
        }
        await Kura.main(GlobalArgumentOrder.reorder(Array(CommandLine.arguments.dropFirst()), root: Kura.self))
    }
}

/// kura (蔵, "storehouse"): encrypted, deduplicated, content-addressed backups.
struct Kura: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kura",
        abstract: "Encrypted, deduplicated backups of directories and command output.",
        discussion: """
        Every backup is a snapshot: a manifest over content-defined chunks that are stored once,
        compressed (zstd) and encrypted (AES-256-GCM). Any snapshot restores on its own.

        The repository is --repo, else $KURA_REPOSITORY, else ~/.local/share/kura/repo.
        The password comes from --password-file, $KURA_PASSWORD_FILE, $KURA_PASSWORD, or a prompt.

        Start with:
          kura init
          kura backup /var/lib/docker/volumes/app
          kura snapshots
          kura cat latest:/var/lib/docker/volumes/app/_data/config.json
          kura restore latest --target /tmp/restore

        Exit codes: 0 ok, 1 fatal error, 3 backup saved but some files could not be read,
        10 no repository, 11 repository locked, 12 wrong password.
        """,
        version: "0.1.0",
        subcommands: [Init.self, Backup.self, Snapshots.self, Ls.self, Cat.self, Restore.self, Dump.self,
                      Diff.self, Stats.self, Check.self, Forget.self, GC.self, Repair.self, Unlock.self, Key.self,
                      Copy.self, Run.self, ConfigCommand.self, ScheduleCommand.self, Status.self, ImportLegacy.self,
                      RestoreDB.self, VerifyRestore.self, RestorePhysical.self, WALPush.self, WALFetch.self, WALStatusCommand.self,
                      Serve.self]
    )
}
