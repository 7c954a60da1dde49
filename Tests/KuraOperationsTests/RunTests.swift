import Foundation
import KuraNotify
import KuraOperations
import KuraRepository
import Testing
import KuraTestSupport

@Suite("kura run")
struct RunTests {
    /// A directory source with retention and checks, a failing directory, a failing command and a good command.
    func mixedConfig(_ s: OpsSandbox, schedules: Bool = false) throws -> Configuration {
        try s.write("src/docs/readme.txt", "hello\n")
        try s.write("src/data/numbers.txt", (0..<20_000).map(String.init).joined(separator: "\n"))
        return try s.writeConfig(s.header + """
        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(s.path("src"))"]
        exclude = ["*.tmp"]
        \(schedules ? "schedule = \"0 17 * * *\"\nfull-every = \"sat\"" : "")
        keep = { last = 2 }
        check = { read-data-subset = "1/1", verify-restore = "always" }

        [[source]]
        name = "missing"
        type = "directory"
        paths = ["\(s.path("does-not-exist"))"]
        \(schedules ? "schedule = \"30 17 * * sun\"" : "")

        [[source]]
        name = "failing-command"
        type = "command"
        command = "echo partial output; echo 'pg_dump: connection refused' >&2; exit 1"

        [[source]]
        name = "dump"
        type = "command"
        command = ["/bin/sh", "-c", "printf 'CREATE TABLE t(x int);\\n'"]
        filename = "app.sql"
        \(schedules ? "schedule = \"45 17 * * *\"" : "")
        """ + s.sendmailChannel)
    }

    @Test func endToEndOverADirectorySource() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try mixedConfig(s)
        let runner = Runner(config: config, environment: s.environment, logger: quietLogger)
        var outcomes: [RunOutcome] = []
        for i in 0..<3 {
            try s.write("src/docs/run-\(i).txt", "run \(i)\n")
            outcomes.append(try await runner.run(RunRequest(sources: ["files"])))
        }
        for o in outcomes {
            #expect(o.exitCode == 0 && o.results.count == 1, "\(o.results.map(\.report.error))")
        }
        let last = try #require(outcomes.last?.results.first?.report)
        #expect(last.success && last.source == "files" && last.kind == "directory")
        #expect(last.files == 5, "readme, numbers, run-0..2")
        #expect(last.snapshotsRetained == 2, "keep last 2")
        #expect(last.checkResult?.hasPrefix("ok (structure + all data") == true, "\(last.checkResult ?? "")")
        #expect(last.verifyResult?.hasPrefix("ok (5 files") == true, "\(last.verifyResult ?? "")")
        #expect(last.logicalBytes > 100_000 && last.dedupRatio > 1)

        // The repository: two snapshots of the source (forget removed the first), tagged, with the files.
        let repo = try await s.openRepository()
        let snaps = try await repo.listSnapshots()
        #expect(snaps.count == 2 && snaps.allSatisfy { $0.tags.contains("source:files") && $0.paths == [s.path("src")] })
        #expect(snaps.last?.id?.hex == last.snapshotID)
        #expect(!snaps.contains { $0.id?.hex == outcomes[0].results[0].report.snapshotID }, "the oldest was forgotten")
        // Run reports and the restore verification are kept in the repository.
        #expect(try await repo.listRecords(kind: "run").count == 3)
        #expect(try await repo.listRecords(kind: "verify-restore").count == 3)

        // The state file.
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.state + "/state.json"))) as? [String: Any]
        let files = try #require((state?["sources"] as? [String: Any])?["files"] as? [String: Any])
        #expect(files["lastSuccess"] as? Bool == true && files["lastGoodSnapshot"] as? String == last.snapshotID)
        #expect(files["lastCheck"] != nil && files["lastVerifyRestore"] != nil)
        #expect(state?["lastGC"] != nil, "forget removed a snapshot and gc was due")

        // Three reports went to the sendmail channel.
        #expect(s.messages.count == 3, "\(s.mailText)")
        #expect(s.messages.allSatisfy { $0.contains("files") && $0.contains("ops@example.com") })
    }

    @Test func aFailingSourceSendsAFailureReportAndTheOthersRun() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try mixedConfig(s)
        let outcome = try await Runner(config: config, environment: s.environment, logger: quietLogger).run(RunRequest())
        #expect(outcome.exitCode == 1)
        let byName = Dictionary(uniqueKeysWithValues: outcome.results.map { ($0.report.source, $0.report) })
        #expect(outcome.results.map(\.report.source) == ["files", "missing", "failing-command", "dump"], "in order, none skipped")
        #expect(byName["files"]?.success == true && byName["dump"]?.success == true)
        let missing = try #require(byName["missing"])
        #expect(!missing.success && missing.error?.contains("does-not-exist") == true, "\(missing.error ?? "")")
        #expect(missing.nextStep != nil && missing.snapshotID == nil)
        let cmd = try #require(byName["failing-command"])
        #expect(!cmd.success && cmd.error?.contains("exited with status 1") == true && cmd.error?.contains("connection refused") == true, "\(cmd.error ?? "")")
        #expect(cmd.lastGoodSnapshot == nil)
        // The good command's output is in its snapshot.
        let repo = try await s.openRepository()
        let dumpSnap = try #require(try await repo.listSnapshots().first { $0.tags.contains("source:dump") })
        #expect(dumpSnap.paths == ["/app.sql"] && dumpSnap.source == "command")
        // Every source was reported (on = "always"), the failures with their error.
        let messages = s.messages
        #expect(messages.count == 4, "\(s.mailText)")
        #expect(messages.contains { $0.contains("missing") && $0.contains("does-not-exist") })
        #expect(messages.contains { $0.contains("failing-command") && $0.contains("connection refused") })
        #expect(outcome.deliveries.count == 4 && outcome.deliveries.allSatisfy { $0.error == nil })
        // A later failure of a source that once worked names the last good snapshot.
        try FileManager.default.removeItem(atPath: s.path("src"))
        let again = try await Runner(config: config, environment: s.environment, logger: quietLogger).run(RunRequest(sources: ["files"]))
        let failed = try #require(again.results.first?.report)
        #expect(!failed.success && failed.lastGoodSnapshot == byName["files"]?.snapshotID && failed.lastGoodTime != nil)
    }

    @Test func aMissingRepositoryFailsEverySourceWithAReport() async throws {
        let s = try OpsSandbox()
        let config = try mixedConfig(s)
        let outcome = try await Runner(config: config, environment: s.environment, logger: quietLogger).run(RunRequest(sources: ["files", "dump"]))
        #expect(outcome.exitCode == 1 && outcome.results.count == 2)
        #expect(outcome.results.allSatisfy { !$0.report.success && $0.report.error?.contains("no kura repository") == true })
        #expect(s.messages.count == 2)
    }

    @Test func dueRunsOnlyWhatIsDue() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try mixedConfig(s, schedules: true)
        // Saturday 2026-11-28, 12:00 in Berlin.
        let clock = ManualClock(local("Europe/Berlin", 2026, 11, 28, 12, 0))
        var env = s.environment
        env.clock = clock.clock
        let runner = Runner(config: config, environment: env, logger: quietLogger)
        // First --due: every scheduled source never ran, so each runs once; the unscheduled command does not.
        let first = try await runner.run(RunRequest(due: true))
        #expect(Set(first.results.map(\.report.source)) == ["files", "missing", "dump"])
        #expect(first.results.allSatisfy { $0.slot != nil })
        // Saturday is the full day of "files": everything is re-read, and the snapshot says so.
        let repo = try await s.openRepository()
        let firstFiles = try #require(try await repo.listSnapshots().first { $0.tags.contains("source:files") })
        #expect(firstFiles.tags == ["source:files", "full"])
        // Same minute again: nothing is due.
        let second = try await runner.run(RunRequest(due: true))
        #expect(second.results.isEmpty && second.exitCode == 0)
        #expect(second.notDue["files"] == local("Europe/Berlin", 2026, 11, 28, 17, 0))
        // 17:00: files is due; 17:44: still nothing else; 17:45: dump.
        clock.set(local("Europe/Berlin", 2026, 11, 28, 17, 0))
        #expect(try await runner.run(RunRequest(due: true)).results.map(\.report.source) == ["files"])
        clock.set(local("Europe/Berlin", 2026, 11, 28, 17, 44))
        #expect(try await runner.run(RunRequest(due: true)).results.isEmpty)
        clock.set(local("Europe/Berlin", 2026, 11, 28, 17, 45))
        #expect(try await runner.run(RunRequest(due: true)).results.map(\.report.source) == ["dump"])
        // Three days off: each source runs once, for its newest missed slot (Sunday 17:30 for "missing").
        clock.set(local("Europe/Berlin", 2026, 12, 1, 18, 0))
        let back = try await runner.run(RunRequest(due: true))
        #expect(back.results.map(\.report.source) == ["files", "missing", "dump"])
        #expect(back.results.first { $0.report.source == "missing" }?.slot == local("Europe/Berlin", 2026, 11, 29, 17, 30))
        #expect(back.results.first { $0.report.source == "files" }?.slot == local("Europe/Berlin", 2026, 12, 1, 17, 0))
        let tuesday = try #require(try await s.openRepository().listSnapshots().last { $0.tags.contains("source:files") })
        #expect(tuesday.tags == ["source:files"] && tuesday.summary?.filesUnchanged == 2, "not a full: unchanged files are not read again")
        #expect(try await runner.run(RunRequest(due: true)).results.isEmpty)
        // Naming sources runs them whatever the schedule says.
        #expect(try await runner.run(RunRequest(sources: ["dump"])).results.count == 1)
        // Unknown names are refused before anything runs.
        await #expect(throws: KuraError.self) { try await runner.run(RunRequest(sources: ["nope"])) }
    }

    @Test func overlappingRunsNeverDoubleUp() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try mixedConfig(s)
        try FileManager.default.createDirectory(atPath: s.state, withIntermediateDirectories: true)
        let held = try #require(try await RunLock.acquire(path: s.state + "/run.lock"))
        #expect(try await RunLock.acquire(path: s.state + "/run.lock") == nil, "a second holder is refused")
        let runner = Runner(config: config, environment: s.environment, logger: quietLogger)
        let blocked = try await runner.run(RunRequest(sources: ["dump"]))
        #expect(blocked.lockHeld && blocked.exitCode == 11 && blocked.results.isEmpty && blocked.lockHeldBy == getpid())
        #expect(try await s.openRepository().listSnapshots().isEmpty)
        // A run that waits gets its turn when the holder lets go.
        let waiter = Task { try await runner.run(RunRequest(sources: ["dump"], waitSeconds: 20)) }
        try await Task.sleep(for: .milliseconds(500))
        held.release()
        let waited = try await waiter.value
        #expect(!waited.lockHeld && waited.results.count == 1 && waited.exitCode == 0)
        // The CLI: `run --due` while another run holds the lock exits 0 and does nothing; a named run exits 11.
        let holder = try #require(try await RunLock.acquire(path: s.state + "/run.lock"))
        defer { holder.release() }
        let due = try await s.kura(["run", "--due", "--config", s.configPath])
        #expect(due.status == 0, "\(due)")
        let named = try await s.kura(["run", "dump", "--config", s.configPath])
        #expect(named.status == 11 && named.err.contains("another kura run is in progress"), "\(named)")
    }

    @Test func hooksRunAroundTheBackupWithTimeouts() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try s.write("src/a.txt", "a")
        let config = try s.writeConfig(s.header + """
        [[source]]
        name = "hooked"
        type = "directory"
        paths = ["\(s.path("src"))"]
        before = "echo before $KURA_SOURCE >> \(s.path("hooks.log"))"
        after = "echo after $KURA_RESULT ${KURA_SNAPSHOT:+snap} >> \(s.path("hooks.log"))"

        [[source]]
        name = "slow-before"
        type = "directory"
        paths = ["\(s.path("src"))"]
        before = "sleep 30; echo never"
        before-timeout = "1s"
        after = "echo after $KURA_RESULT >> \(s.path("hooks.log"))"

        [[source]]
        name = "daemon-hook"
        type = "directory"
        paths = ["\(s.path("src"))"]
        before = "sleep 4 & echo started a daemon"
        before-timeout = "3s"
        """)
        let started = Date()
        let outcome = try await Runner(config: config, environment: s.environment, logger: quietLogger).run(RunRequest())
        // The hook sleeping 30 s is cut at 1 s (its error says so, below); the wall-clock bound is loose
        // because a loaded 2-core CI machine runs everything slowly.
        #expect(Date().timeIntervalSince(started) < 120)
        #expect(outcome.results[0].report.success)
        let slow = outcome.results[1].report
        #expect(!slow.success && slow.error?.contains("timed out after 1 s") == true, "\(slow.error ?? "")")
        #expect(slow.snapshotID == nil)
        let daemon = outcome.results[2].report
        #expect(daemon.success, "a hook that leaves a process behind still ends: \(daemon.error ?? "")")
        let log = try String(contentsOfFile: s.path("hooks.log"), encoding: .utf8)
        #expect(log == "before hooked\nafter success snap\nafter failure\n", "\(log)")
    }
}
