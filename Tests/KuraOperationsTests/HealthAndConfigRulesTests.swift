import Foundation
import KuraOperations
import KuraRepository
import Testing
import KuraTestSupport

/// Issue 10, items 6, 7 and 12 (cron, empty command): what `status`, `kura run` and the parser say
/// when the operator's setup is quietly broken.
@Suite("health, secrets and config rules")
struct HealthAndConfigRulesTests {
    func dailyConfig(_ s: OpsSandbox, stateDir: String? = nil) throws -> Configuration {
        try s.write("src/a.txt", "contents\n")
        var header = s.header
        if let stateDir { header = header.replacingOccurrences(of: "state-dir = \"\(s.state)\"", with: "state-dir = \"\(stateDir)\"") }
        return try s.writeConfig(header + """
        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(s.path("src"))"]
        schedule = "0 17 * * *"
        """)
    }

    @Test("status: a daily source whose last success is 64 days old is overdue and not healthy; within 25 h it is healthy")
    func staleSourceIsNotHealthy() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try dailyConfig(s)
        let clock = ManualClock(local("Europe/Berlin", 2026, 3, 2, 17, 0))
        var env = s.environment
        env.clock = clock.clock
        let runner = Runner(config: config, environment: env, logger: quietLogger)
        let outcome = try await runner.run(RunRequest(sources: ["files"]))
        #expect(outcome.exitCode == 0)

        clock.set(local("Europe/Berlin", 2026, 3, 3, 17, 59))   // 25 h minus a minute: one interval plus the hour's grace
        var status = await runner.status()
        #expect(status.healthy, "\(status.problems)")
        #expect(status.sources.first?.overdue == false)

        clock.set(local("Europe/Berlin", 2026, 3, 3, 18, 1))    // the 17:00 run did not happen, and an hour has passed
        status = await runner.status()
        #expect(!status.healthy && status.sources.first?.overdue == true, "\(status.problems)")

        clock.set(local("Europe/Berlin", 2026, 5, 5, 17, 0))    // 64 days later
        status = await runner.status()
        #expect(!status.healthy, "backups stopped 64 days ago")
        #expect(status.problems.contains { $0.contains("files") && $0.contains("no success since") }, "\(status.problems)")
        #expect(status.sources.first?.lastResult == "success", "the last run itself succeeded; only its age is the problem")

        // A source without a schedule is never overdue.
        #expect(!StatusReport.overdue(schedule: Schedule([], timeZone: config.timeZone), lastSuccess: nil, now: clock.now))
    }

    @Test("status: an unusable state folder (kura run fails there) is not healthy, and says why")
    func unusableStateIsNotHealthy() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        // The state folder is a file: nothing can be written there, even by root.
        let bogus = s.path("state-is-a-file")
        try s.write("state-is-a-file", "not a folder\n")
        let config = try dailyConfig(s, stateDir: bogus)
        var env = s.environment
        env.clock = .fixed(Date())
        let runner = Runner(config: config, environment: env, logger: quietLogger)
        let run = try? await runner.run(RunRequest(sources: ["files"]))
        #expect(run == nil || run?.exitCode != 0, "kura run cannot work without its state")
        let status = await runner.status()
        #expect(!status.healthy)
        #expect(status.stateError?.contains("not a folder") == true, "\(String(describing: status.stateError))")

        // A state file that cannot be read is a problem too.
        let s2 = try OpsSandbox()
        try await s2.initRepository()
        let config2 = try dailyConfig(s2)
        try s2.write("state/state.json", "{ not json")
        let status2 = await Runner(config: config2, environment: s2.environment, logger: quietLogger).status()
        #expect(!status2.healthy && status2.stateError != nil)
    }

    @Test("kura run refuses an inline password in a configuration others can read, as config check does; 0600 works")
    func runRefusesWorldReadableInlinePassword() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try s.write("src/a.txt", "x\n")
        let text = """
        repository = "\(s.repo)"
        password = "\(s.password)"
        state-dir = "\(s.state)"

        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(s.path("src"))"]
        """
        try s.writeConfig(text)
        chmod(s.configPath, 0o644)
        let run = try await s.kura(["run", "files", "--config", s.configPath])
        #expect(run.status == 1, "\(run)")
        #expect(run.err.contains("holds the password inline") && run.err.contains("chmod 600 \(s.configPath)"), "\(run)")
        let check = try await s.kura(["config", "check", "--config", s.configPath, "--no-notify"])
        #expect(check.status == 1 && check.out.contains("chmod 600") || check.err.contains("chmod 600"), "\(check)")
        #expect(try await s.openRepository().listSnapshots().isEmpty, "nothing was backed up")

        chmod(s.configPath, 0o600)
        let ok = try await s.kura(["run", "files", "--config", s.configPath])
        #expect(ok.status == 0, "\(ok)")
    }

    @Test("a cron schedule that never fires (31 February) is rejected at parse time with line and column")
    func impossibleCronIsRejected() throws {
        let text = """
        repository = "/backup/kura"
        password-file = "/etc/kura/password"

        [[source]]
        name = "never"
        type = "directory"
        paths = ["/srv"]
        schedule = "0 0 31 2 *"
        """
        let e = try #require(throws: ConfigurationError.self) { try ConfigurationParser.parse(text, file: "kura.toml") }
        let issue = try #require(e.issues.first { $0.key == "source[0].schedule" }, "\(e)")
        #expect(issue.line == 8 && issue.column == 12, "\(issue)")
        #expect(issue.message.contains("never fires"), "\(issue)")
        // Possible ones stay accepted: 29 February (leap years), 31st in a list with a long month, and
        // day-of-month with a restricted day-of-week (either matches).
        for ok in ["0 0 29 2 *", "0 0 31 1,2 *", "0 0 31 2 mon", "0 0 30 4,6,9,11 *"] {
            #expect(throws: Never.self, "\(ok)") { _ = try CronExpression(ok) }
        }
        #expect(throws: (any Error).self) { _ = try CronExpression("0 0 31 4,6,9,11 *") }
    }

    @Test("command = \"\" in a command source is rejected by the parser, at the value")
    func emptyCommandIsRejected() throws {
        for value in ["\"\"", "\"   \"", "[]", "[\"\"]"] {
            let text = """
            repository = "/backup/kura"
            password-file = "/etc/kura/password"

            [[source]]
            name = "dump"
            type = "command"
            command = \(value)
            """
            let e = try #require(throws: ConfigurationError.self, "\(value)") { try ConfigurationParser.parse(text, file: "kura.toml") }
            let issue = try #require(e.issues.first { $0.key?.hasPrefix("source[0]") == true }, "\(value): \(e)")
            // A string is flagged at its value (line 7); a list, as before, at the source.
            #expect(issue.line != nil && issue.message.contains("command"), "\(value): \(issue)")
            if value.hasPrefix("\"") { #expect(issue.line == 7 && issue.column == 11, "\(value): \(issue)") }
        }
    }
}
