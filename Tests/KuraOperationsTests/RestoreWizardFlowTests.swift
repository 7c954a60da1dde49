import Foundation
import KuraArchiver
import KuraOperations
import KuraRepository
import Testing

/// The wizard's questions driven through a scripted ``WizardTerminal`` (no terminal), and its plans
/// carried out by ``RestoreExecutor``: "everything" walks every configured source; a wrong typed
/// confirmation cancels before anything is written.
@Suite struct RestoreWizardFlowTests {
    func setUp(_ s: OpsSandbox) async throws -> (Configuration, Repository) {
        try await s.initRepository()
        for name in ["web", "media"] {
            try FileManager.default.createDirectory(atPath: s.path("src/\(name)"), withIntermediateDirectories: true)
            try Data("\(name) v1\n".utf8).write(to: URL(fileURLWithPath: s.path("src/\(name)/file.txt")))
        }
        let config = try ConfigurationParser.parse(s.header + """
            [[source]]
            name = "web"
            type = "directory"
            paths = ["\(s.path("src/web"))"]

            [[source]]
            name = "media"
            type = "directory"
            paths = ["\(s.path("src/media"))"]
            """)
        let repo = try await s.openRepository()
        for source in config.sources {
            var o = BackupOptions(paths: source.paths)
            o.tags = [source.tag]
            _ = try await Archiver(repository: repo, options: o).run()
        }
        return (config, repo)
    }

    @Test func everythingAsksPerSourceAndRestoresEachIntoANewFolder() async throws {
        let s = try OpsSandbox()
        let (config, repo) = try await setUp(s)
        let io = ScriptedTerminal(answers: ["3", "", "1", "1", s.path("out/web"), "y", "", "1", "1", s.path("out/media"), "y"])
        // The state file's last check and verified restore mark the snapshot lines.
        let web = try #require(try await repo.listSnapshots().first { $0.tags.contains("source:web") })
        var state = RunState()
        state.sources["web"] = RunState.SourceState()
        state.sources["web"]!.lastCheck = Date()
        state.sources["web"]!.lastCheckResult = "ok (1 snapshots, 1 packs)"
        state.sources["web"]!.lastVerifyRestore = Date()
        state.sources["web"]!.lastVerifyRestoreResult = "ok (1 files, 7 bytes read back from snapshot \(web.id!.hex.prefix(8)))"
        let wizard = RestoreWizard(repository: repo, configuration: config, state: state, io: io, host: "h")
        let plans = try await wizard.ask()
        #expect(plans.map(\.source.name) == ["web", "media"], "\(io.transcript)")
        #expect(plans[0].command == "kura restore \(plans[0].snapshot.id!.short) --target \(s.path("out/web"))")
        #expect(io.transcript.contains("== media =="))
        #expect(io.transcript.contains("\(web.id!.short)  7 B        full  checked ok, verified restore"), "\(io.transcript)")
        let executor = RestoreExecutor(repository: repo, configuration: config, host: "h")
        for plan in plans {
            let outcome = try await executor.run(plan) { _ in }
            #expect(outcome.errors.isEmpty && outcome.safetySnapshot == nil)
        }
        for name in ["web", "media"] {
            let restored = s.path("out/\(name)") + s.path("src/\(name)/file.txt")
            #expect(try String(contentsOfFile: restored, encoding: .utf8) == "\(name) v1\n")
        }
    }

    @Test func aWrongConfirmationOrQuitChangesNothing() async throws {
        let s = try OpsSandbox()
        let (config, repo) = try await setUp(s)
        try Data("web today\n".utf8).write(to: URL(fileURLWithPath: s.path("src/web/file.txt")))
        for answers in [["2", "1", "", "1", "2", "Web"], ["2", "q"], ["2", "1"]] {  // wrong name, quit, end of input
            let io = ScriptedTerminal(answers: answers)
            let wizard = RestoreWizard(repository: repo, configuration: config, state: RunState(), io: io, host: "h")
            do {
                _ = try await wizard.ask()
                Issue.record("\(answers) was not cancelled")
            } catch let e as KuraError { #expect(e.code == .interrupted, "\(e)") }
        }
        #expect(try String(contentsOfFile: s.path("src/web/file.txt"), encoding: .utf8) == "web today\n")
        #expect(try await repo.listSnapshots().filter { $0.tags.contains(RestorePlan.safetyTag) }.isEmpty)
    }

    /// Without a configuration: sources from the snapshots' tags; some paths picked from the
    /// filtered list; in place, the safety snapshot is a plain backup of the paths.
    @Test func withoutConfigurationPickSomePathsInPlace() async throws {
        let s = try OpsSandbox()
        let (_, repo) = try await setUp(s)
        let web = s.path("src/web")
        try Data("other v2\n".utf8).write(to: URL(fileURLWithPath: web + "/other.txt"))
        // other.txt only exists in a newer snapshot of web.
        var o = BackupOptions(paths: [web]); o.tags = ["source:web"]
        _ = try await Archiver(repository: repo, options: o).run()
        try Data("damaged\n".utf8).write(to: URL(fileURLWithPath: web + "/file.txt"))
        try Data("damaged\n".utf8).write(to: URL(fileURLWithPath: web + "/other.txt"))
        #expect(RestoreWizard.sources(configuration: nil, snapshots: try await repo.listSnapshots()).map(\.name).sorted() == ["media", "web"])
        // files → web (sorted newest first: web is the newest) → newest snapshot → some → filter → pick → done → in place → confirm
        let io = ScriptedTerminal(answers: ["2", "1", "", "2", "other", "1", "", "2", "web"])
        let plans = try await RestoreWizard(repository: repo, configuration: nil, state: RunState(), io: io, host: "h").ask()
        let plan = try #require(plans.first)
        #expect(plan.source.name == "web" && plan.includes == [web + "/other.txt"], "\(io.transcript)")
        #expect(io.transcript.contains("1 of 3 paths contain 'other'"), "\(io.transcript)")
        #expect(plan.command.contains(":\(web) --target \(web) --include \(web)/other.txt"), "\(plan.command)")
        let outcome = try await RestoreExecutor(repository: repo, configuration: nil, host: "h").run(plan) { _ in }
        #expect(outcome.errors.isEmpty)
        #expect(try String(contentsOfFile: web + "/other.txt", encoding: .utf8) == "other v2\n")
        #expect(try String(contentsOfFile: web + "/file.txt", encoding: .utf8) == "damaged\n", "only the picked path")
        let safety = try #require(try await repo.listSnapshots().first { $0.tags.contains(RestorePlan.safetyTag) })
        #expect(safety.tags.contains("source:web") && safety.paths == [web])
    }

    /// A database source in a repository with archived WAL: step 2 shows the archived window and the
    /// point-in-time command.
    @Test func databaseSnapshotsShowTheArchivedWALWindow() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let repo = try await s.openRepository()
        _ = try await Archiver(repository: repo, options: BackupOptions(paths: [])).runStreams(
            [StreamEntry(path: ["app.dump"], content: .command(["true"]))], source: "postgres")
        let answersWithoutWAL = ScriptedTerminal(answers: ["1", "", ""])
        _ = try? await RestoreWizard(repository: repo, configuration: nil, state: RunState(), io: answersWithoutWAL, host: "h").ask()
        #expect(answersWithoutWAL.transcript.contains("2. Back to when?") && !answersWithoutWAL.transcript.contains("WAL is archived"))
        try await repo.putWALFile(name: "000000010000000000000003", contents: Array(repeating: 7, count: 4096))
        let io = ScriptedTerminal(answers: ["1", "", ""])
        _ = try? await RestoreWizard(repository: repo, configuration: nil, state: RunState(), io: io, host: "h").ask()
        #expect(io.transcript.contains("WAL is archived to ") && io.transcript.contains("(with gaps)"), "no base backup: not continuous; \(io.transcript)")
        #expect(io.transcript.contains("kura restore-physical latest --target DIR --to-time"))
    }

    /// In place over a Docker volume: the safety snapshot first, the containers that use the volume
    /// stopped for the restore and started again, the volume's files back as they were.
    @Test func dockerVolumeInPlaceStopsAndRestartsItsContainers() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try s.write("volumes/media/photo.jpg", "jpeg v1")
        let docker = try FakeDocker(path: s.path("docker.sock"), mountpoints: ["media": s.path("volumes/media")])
        defer { docker.stop() }
        let config = try s.writeConfig(s.header + """
        [docker]
        socket = "\(s.path("docker.sock"))"
        stop-timeout = 5

        [[source]]
        name = "media"
        type = "docker-volume"
        volume = "media"
        """)
        let run = try await Runner(config: config, environment: s.environment, logger: quietLogger).run(RunRequest())
        #expect(run.results.first?.report.success == true)
        try s.write("volumes/media/photo.jpg", "damaged")
        let repo = try await s.openRepository()
        let io = ScriptedTerminal(answers: ["2", "", "", "1", "2", "media"])
        let plans = try await RestoreWizard(repository: repo, configuration: config, state: RunState(), io: io, host: "h").ask()
        #expect(io.transcript.contains("the containers using the volume are stopped"), "\(io.transcript)")
        let before = docker.requests.count
        let outcome = try await RestoreExecutor(repository: repo, configuration: config, host: "h").run(try #require(plans.first)) { _ in }
        #expect(outcome.errors.isEmpty && outcome.warnings.isEmpty, "\(outcome)")
        let posts = docker.requests.dropFirst(before).filter { $0.hasPrefix("POST") }
        #expect(posts == ["POST /containers/abc123def456/stop", "POST /containers/fff999/stop",
                          "POST /containers/fff999/start", "POST /containers/abc123def456/start"], "\(posts)")
        #expect(try String(contentsOfFile: s.path("volumes/media/photo.jpg"), encoding: .utf8) == "jpeg v1")
        let safety = try #require(try await repo.listSnapshots().first { $0.tags.contains(RestorePlan.safetyTag) })
        #expect(safety.tags.contains("source:media") && outcome.safetySnapshot == safety.id?.short)
        #expect(outcome.undoHint?.contains("kura restore \(safety.id!.short):\(s.path("volumes/media")) --target \(s.path("volumes/media"))") == true, "\(outcome.undoHint ?? "")")
    }
}
