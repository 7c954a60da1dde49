import Foundation
import KuraNotify
import KuraOperations
import KuraTestSupport
import Testing

/// Dead-man pings (the `healthchecks` channel, against a real HTTP server on loopback) and late
/// detection: a source whose runs stopped — here because a hung run holds the run lock — is flagged by
/// `status` and reported once by `kura run --due`.
@Suite struct LateAndHealthchecksTests {
    /// The loopback HTTP server of the notification tests: every request is a JSON record in a folder.
    final class PingServer: @unchecked Sendable {
        let folder: TemporaryFolder
        let server: PythonTestServer
        init() throws {
            folder = try TemporaryFolder("kura-pings")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("KuraNotifyTests/http_server.py").path
            server = try PythonTestServer(script: script, [folder.path], errorFile: folder.file("server.stderr"), what: "http_server.py")
        }
        var base: String { "http://127.0.0.1:\(server.port)" }
        /// (path, body) of every request so far, oldest first.
        func requests() throws -> [(path: String, body: String)] {
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted().map { name in
                let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.url.appendingPathComponent(name))) as? [String: Any]
                return (obj?["path"] as? String ?? "", obj?["body"] as? String ?? "")
            }
        }
    }

    @Test func healthchecksPingsStartThenSuccessOrFailureAndLateSourcesAreReportedOnce() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let pings = try PingServer()
        defer { pings.server.stop() }
        try s.write("src/a.txt", "hello\n")
        let config = try s.writeConfig(s.header + """
            [[source]]
            name = "files"
            type = "directory"
            paths = ["\(s.path("src"))"]
            schedule = "0 2 * * *"
            grace = "30m"

            [[source]]
            name = "missing"
            type = "directory"
            paths = ["\(s.path("does-not-exist"))"]
            schedule = "0 2 * * *"

            [[notify]]
            name = "hc-files"
            type = "healthchecks"
            url = "\(pings.base)/ping/files-uuid"
            sources = ["files"]

            [[notify]]
            name = "hc-missing"
            type = "healthchecks"
            url = "\(pings.base)/ping/missing-uuid/"
            sources = ["missing"]
            """ + s.sendmailChannel)
        let clock = ManualClock(local("Europe/Berlin", 2026, 12, 1, 2, 0))
        var env = s.environment
        env.clock = clock.clock
        let runner = Runner(config: config, environment: env, logger: quietLogger)

        // Night 1: each source pings its own check: start, then success or failure with the report.
        let first = try await runner.run(RunRequest(due: true))
        #expect(first.results.count == 2 && first.exitCode == 1)
        var requests = try pings.requests()
        let files = requests.filter { $0.path.hasPrefix("/ping/files-uuid") }.map(\.path)
        let missing = requests.filter { $0.path.hasPrefix("/ping/missing-uuid") }
        #expect(files == ["/ping/files-uuid/start", "/ping/files-uuid"], "\(requests.map(\.path))")
        #expect(missing.map(\.path) == ["/ping/missing-uuid/start", "/ping/missing-uuid/fail"], "\(requests.map(\.path))")
        #expect(missing.last?.body.contains("does-not-exist") == true, "the failure ping carries the report: \(missing.last?.body ?? "")")
        #expect(requests.first { $0.path == "/ping/files-uuid" }?.body.contains("files") == true)

        // Night 2: a run hangs and holds the run lock. At 02:29 "files" is not late yet (24 h + 30 min grace).
        let hung = try #require(try await RunLock.acquire(path: s.state + "/run.lock"))
        clock.set(local("Europe/Berlin", 2026, 12, 2, 2, 29))
        var blocked = try await runner.run(RunRequest(due: true))
        #expect(blocked.lockHeld && blocked.late.isEmpty)
        var status = await runner.status()
        #expect(status.sources.first { $0.name == "files" }?.overdue == false)

        // 02:31: late. Reported once, by mail and as a failure ping; "missing" never succeeded, so its
        // failures were the reports (status still shows it).
        clock.set(local("Europe/Berlin", 2026, 12, 2, 2, 31))
        let mailsBefore = s.messages.count
        blocked = try await runner.run(RunRequest(due: true))
        #expect(blocked.lockHeld && blocked.late == ["files"] && blocked.exitCode == 11)
        #expect(s.messages.count == mailsBefore + 1)
        #expect(s.messages.last?.contains("late: no successful backup since 2026-12-01 02:00") == true, "\(s.messages.last ?? "")")
        requests = try pings.requests()
        #expect(requests.last?.path == "/ping/files-uuid/fail" && requests.last?.body.contains("late since 2026-12-02 02:30") == true,
                "\(requests.last.map { "\($0.path) \($0.body.prefix(300))" } ?? "")")
        status = await runner.status()
        let filesStatus = try #require(status.sources.first { $0.name == "files" })
        #expect(filesStatus.overdue && filesStatus.lateSince == local("Europe/Berlin", 2026, 12, 2, 2, 30))
        #expect(status.problems.contains { $0.hasPrefix("source files: late") }, "\(status.problems)")

        // A minute later: not reported again.
        clock.set(local("Europe/Berlin", 2026, 12, 2, 2, 32))
        blocked = try await runner.run(RunRequest(due: true))
        #expect(blocked.late.isEmpty && s.messages.count == mailsBefore + 1)

        // The hung run goes away: the next --due runs the missed slot, and the check is up again.
        hung.release()
        clock.set(local("Europe/Berlin", 2026, 12, 2, 2, 33))
        let back = try await runner.run(RunRequest(due: true))
        #expect(back.results.first { $0.report.source == "files" }?.report.success == true && back.late.isEmpty)
        #expect(try pings.requests().last { $0.path.hasPrefix("/ping/files-uuid") }?.path == "/ping/files-uuid")
        #expect(await runner.status().sources.first { $0.name == "files" }?.overdue == false)
    }

    @Test func healthchecksConfigurationIsChecked() throws {
        let s = try OpsSandbox()
        func problems(_ body: String) -> String {
            do { _ = try s.writeConfig(s.header + body); return "" } catch { return "\(error)" }
        }
        let source = "[[source]]\nname = \"files\"\ntype = \"directory\"\npaths = [\"/srv\"]\n"
        #expect(problems(source + "[[notify]]\ntype = \"healthchecks\"\n").contains("needs its check's ping url"))
        #expect(problems(source + "[[notify]]\ntype = \"healthchecks\"\nurl = \"https://hc-ping.com/x\"\non = \"failure\"\n").contains("leave out on"))
        #expect(problems(source + "[[notify]]\ntype = \"healthchecks\"\nurl = \"https://hc-ping.com/x\"\nsources = [\"db\"]\n").contains("no source named \"db\""))
        #expect(problems(source + "grace = \"soon\"\n").contains("grace must be a duration"))
    }
}
