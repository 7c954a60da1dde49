import Foundation
import KuraRepository
import KuraStore
import KuraTestSupport
import Testing

/// The repository lock, tried from outside the process that holds it: every writing command meets
/// a held lock, a scheduled run races gc/forget/repair, a stopped backup loses its lock, and a gc in
/// another PID namespace cannot judge a lock by its PID.
@Suite("Locks, from a second process", .serialized)
struct LockGuaranteeTests {
    /// The test process opens the repository through the library: a second process beside the kura binary.
    func openHere(_ s: Sandbox) async throws -> Repository {
        try await Repository.open(store: try StoreFactory.open(s.repo), password: Array(s.password.utf8))
    }

    /// Waits (up to a minute, on a loaded machine) until `condition` holds.
    func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(60)
        while !condition() {
            try #require(Date() < deadline, "timed out waiting until \(what)")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Starts `kura backup --stdin-from-command -- sh -c SCRIPT` in the background.
    func commandBackup(_ s: Sandbox, _ script: String, env: [String: String]) throws -> FaultChild {
        try FaultChild.kura(s, ["backup", "--stdin-filename", "x.bin", "--stdin-from-command", "--", "sh", "-c", script], extra: env)
    }

    func config(_ s: Sandbox, source: String, extra: String = "") throws -> String {
        let path = s.path("kura.toml")
        let text = """
        repository = "\(s.repo)"
        password-file = "\(try s.passwordFile())"
        state-dir = "\(s.path("state"))"
        log-file = "\(s.path("kura.log"))"
        [gc]
        every = "always"
        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(source)"]
        schedule = "0 3 * * *"
        keep = { last = 2 }
        \(extra)
        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    @Test("every command that writes takes the lock: against a repository held exclusively by another process each exits 11 and changes nothing")
    func everyWriterTakesTheLock() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])
            let cfg = try config(s, source: src)
            let newPassword = try s.passwordFile(contents: "another-password\n", name: "new-password")
            let before = try await s.snapshots().count
            let repo = try await openHere(s)
            let legacy = s.path("legacy")
            try FileManager.default.createDirectory(atPath: legacy, withIntermediateDirectories: true)
            let dump = s.path("legacy/app_2024-01-02.sql.gz")
            _ = try await s.run("sh", ["-c", "echo 'select 1;' | gzip > \(dump)"])
            let offsite = s.path("offsite")
            try #require(try await s.kura(["init", "-q"], repo: .path(offsite)).status == 0)
            let writers: [(String, [String], [String: String])] = [
                ("backup", ["backup", src], [:]),
                ("backup --stdin-from-command", ["backup", "--stdin-filename", "x.out", "--stdin-from-command", "--", "echo", "hello"], [:]),
                ("forget", ["forget", "--keep-last", "1"], [:]),
                ("forget --gc", ["forget", "--keep-last", "1", "--gc"], [:]),
                ("gc", ["gc"], [:]),
                ("repair index", ["repair", "index"], [:]),
                ("repair snapshots", ["repair", "snapshots"], [:]),
                ("key add", ["key", "add"], ["KURA_NEW_PASSWORD_FILE": newPassword]),
                ("key passwd", ["key", "passwd"], ["KURA_NEW_PASSWORD_FILE": newPassword]),
                ("check", ["check"], [:]),
                ("copy (from the locked repository)", ["copy", "--to", offsite], [:]),
                ("import-legacy", ["import-legacy", legacy, "--config", cfg, "--source", "files"], [:]),
            ]
            try await repo.withLock(.exclusive) { _ in
                for (name, args, env) in writers {
                    let r = try await s.kura(args, extra: env)
                    #expect(r.status == 11, "\(name) did not meet the lock: \(r)")
                    #expect(r.err.contains("locked"), "\(name): \(r)")
                }
                // kura run (the scheduled path that once took no lock): the source fails with the lock error.
                let run = try await s.kura(["run", "--config", cfg, "--json"], repo: .none)
                #expect(run.status != 0, "kura run ran beside an exclusive lock: \(run)")
                #expect(run.out.contains("locked") || run.err.contains("locked"), "\(run)")
                // Reading needs no lock.
                let list = try await s.kura(["snapshots", "--json"])
                #expect(list.status == 0, "\(list)")
            }
            #expect(try await s.snapshots().count == before, "a blocked command saved a snapshot")
            #expect(faultObjects(s.repo, "locks").isEmpty, "a lock was left behind")
            #expect(try await s.kura(["check", "--read-data"]).status == 0)
        }
    }

    @Test("kura run of a directory source while another process loops gc, forget --gc and repair index: no damaged snapshot, ever")
    func runRacesMaintenance() async throws {
        try await withRepository { s in
            let src = s.path("src")
            var rng = FaultConfig.rng("runRacesMaintenance")
            var tree = FaultTree(root: src, seed: 7)
            try tree.populate(files: 60, rng: &rng)
            let cfg = try config(s, source: src)
            try await s.backup([src])
            let deadline = Date().addingTimeInterval(25)
            let stop = ManagedAtomicFlag()
            // The other process: maintenance in a loop, each blocked attempt must exit 0 or 11.
            let maintenance = Task {
                var outcomes: [Int32: Int] = [:]
                let commands: [[String]] = [["gc"], ["forget", "--keep-last", "1", "--gc"], ["repair", "index"]]
                var i = 0
                while !stop.isSet, Date() < deadline {
                    let r = try await s.kura(commands[i % commands.count])
                    outcomes[r.status, default: 0] += 1
                    #expect(r.status == 0 || r.status == 11, "\(commands[i % commands.count]): \(r)")
                    i += 1
                }
                return outcomes
            }
            var runs = 0
            while Date() < deadline {
                try tree.mutate(addBytes: 400_000, modify: 6, delete: 2, rng: &rng)
                let r = try await s.kura(["run", "--config", cfg], repo: .none)
                #expect([0, 1].contains(r.status), "\(r)")
                runs += 1
            }
            stop.set()
            let outcomes = try await maintenance.value
            #expect(runs >= 2 && (outcomes[0] ?? 0) >= 1, "the race did not happen: runs \(runs), maintenance \(outcomes)")
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "a snapshot was damaged: \(check)")
        }
    }

    @Test("a backup stopped (SIGSTOP) past the stale interval while gc runs saves no snapshot when resumed, and says why")
    func stoppedBackupLosesItsLock() async throws {
        try await withRepository { s in
            // A command source that writes data, then waits: the backup is stopped while it waits.
            let script = "head -c 40000000 /dev/urandom; sleep 4; echo end"
            let env = ["KURA_LOCK_STALE_SECONDS": "6"]
            let before = try await s.snapshots().count
            let child = try commandBackup(s, script, env: env)
            // Stopped once it holds its lock and has stored a pack (not yet indexed: an index file comes every 4 packs).
            try await waitUntil("the backup stored data") { !faultObjects(s.repo, "locks").isEmpty && !faultObjects(s.repo, "data").isEmpty }
            #expect(kill(child.pid, SIGSTOP) == 0)
            try await Task.sleep(for: .seconds(8))
            // Past the interval: gc ignores the stale lock and deletes the stopped backup's unindexed packs.
            let gc = try await s.kura(["gc"], extra: env)
            #expect(gc.status == 0, "\(gc)")
            #expect(gc.err.contains("stale lock"), "\(gc)")
            #expect(!gc.out.contains(" 0 unindexed packs"), "gc deleted none of the stopped backup's packs, so the test proves nothing: \(gc)")
            #expect(kill(child.pid, SIGCONT) == 0)
            let exit = await child.wait(timeout: 60)
            let result = child.result(exit)
            #expect(result.status != 0, "the backup committed after losing its lock: \(result)")
            #expect(result.err.contains("lock was lost"), "\(result)")
            #expect(try await s.snapshots().count == before)
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
            #expect(faultObjects(s.repo, "locks").isEmpty, "\(faultObjects(s.repo, "locks"))")
        }
    }

    @Test("a backup that runs longer than the stale interval keeps its lock by refreshing it: gc meanwhile exits 11, the snapshot is saved")
    func refreshKeepsTheLock() async throws {
        try await withRepository { s in
            let env = ["KURA_LOCK_STALE_SECONDS": "3"]
            // The backup runs until the test has tried its gcs (on a loaded machine one gc can take seconds).
            let done = s.path("gc-tried")
            let child = try commandBackup(s, "while [ ! -e \(done) ]; do head -c 100000 /dev/urandom; sleep 1; done", env: env)
            var blocked = 0
            for _ in 0..<4 {
                try await Task.sleep(for: .seconds(1.5))
                let gc = try await s.kura(["gc"], extra: env)
                #expect(gc.status == 11, "gc did not meet the refreshed lock: \(gc)")
                if gc.status == 11 { blocked += 1 }
            }
            FileManager.default.createFile(atPath: done, contents: nil)
            let result = child.result(await child.wait(timeout: 60))
            #expect(result.status == 0, "\(result)")
            #expect(blocked == 4)
            #expect(try await s.snapshots().count == 1)
            #expect(faultObjects(s.repo, "locks").isEmpty)
        }
    }

    static let unshareReason: String? = {
        guard getuid() == 0 else { return "needs root for unshare --pid" }
        let r = faultRunSync("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", "true"])
        return r.status == 0 ? nil : "unshare --pid does not work here: \(r.output)"
    }()

    @Test("gc in another PID namespace (a container with the host's name) cannot judge a stopped backup's lock by its PID: it refuses",
          .enabled(if: unshareReason == nil, Comment(rawValue: unshareReason ?? "")))
    func otherPIDNamespace() async throws {
        try await withRepository { s in
            let env = ["KURA_LOCK_STALE_SECONDS": "60"]
            let child = try commandBackup(s, "head -c 20000000 /dev/urandom; sleep 30", env: env)
            defer { kill(child.pid, SIGCONT); kill(child.pid, SIGKILL); _ = child.waitBlocking() }
            try await waitUntil("the backup holds its lock") { !faultObjects(s.repo, "locks").isEmpty }
            #expect(kill(child.pid, SIGSTOP) == 0)
            // In the new namespace the backup's PID does not exist (or is another process).
            let gc = try await s.run("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", "env", "KURA_PASSWORD=\(s.password)",
                                                           KuraBinary.url.path, "gc", "--repo", s.repo])
            #expect(gc.status == 11, "gc in another PID namespace ignored a live lock: \(gc)")
            #expect(!gc.err.contains("ignoring stale lock"), "\(gc)")
            // In the same namespace, a lock whose process is provably gone is stale at once.
            kill(child.pid, SIGCONT); kill(child.pid, SIGKILL); _ = await child.wait(timeout: 30)
            let gc2 = try await s.kura(["gc"], extra: env)
            #expect(gc2.status == 0 && gc2.err.contains("no longer runs"), "\(gc2)")
            #expect(try await s.kura(["check", "--read-data"]).status == 0)
        }
    }

    @Test("--no-lock reads without a lock and refuses to write")
    func noLock() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])
            let repo = try await openHere(s)
            try await repo.withLock(.exclusive) { _ in
                let check = try await s.kura(["check", "--no-lock"])
                #expect(check.status == 0 && check.err.contains("without a lock"), "\(check)")
                let dry = try await s.kura(["forget", "--keep-last", "1", "--dry-run", "--no-lock"])
                #expect(dry.status == 0, "\(dry)")
            }
            let backup = try await s.kura(["backup", "--no-lock", src])
            #expect(backup.status != 0 && backup.err.contains("--no-lock"), "\(backup)")
            #expect(try await s.snapshots().count == 1)
        }
    }
}

/// A flag set once, read from other tasks.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
