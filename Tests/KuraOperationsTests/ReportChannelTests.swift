import Foundation
import KuraNotify
@testable import KuraOperations
import KuraTestSupport
import Testing

@Suite("report channels from the configuration")
struct ReportChannelTests {
    @Test("without `timeout`, each channel gets its documented default (SMTP 30 s, sendmail 60 s, webhook 15 s); `timeout` overrides it")
    func defaultTimeouts() throws {
        let s = try OpsSandbox()
        let config = try s.writeConfig("""
        repository = "\(s.repo)"

        [[source]]
        name = "files"
        type = "directory"
        paths = ["/srv"]
        schedule = "0 3 * * *"

        [[notify]]
        type = "smtp"
        host = "127.0.0.1"
        from = "kura@example.com"
        to = ["ops@example.com"]

        [[notify]]
        type = "sendmail"
        to = ["ops@example.com"]

        [[notify]]
        type = "webhook"
        url = "http://127.0.0.1:9/hook"

        [[notify]]
        type = "webhook"
        name = "slow"
        url = "http://127.0.0.1:9/hook"
        timeout = "45s"
        """)
        let channels = try Resources.channels(config, s.environment)
        #expect((channels[0] as? SMTPChannel)?.timeoutSeconds == 30)
        #expect((channels[1] as? SendmailChannel)?.timeoutSeconds == 60)
        #expect((channels[2] as? WebhookChannel)?.timeoutSeconds == 15)
        #expect((channels[3] as? WebhookChannel)?.timeoutSeconds == 45)
    }

    @Test("config check names each failed channel once, with a hint for its kind (not SMTP's for a webhook or sendmail)")
    func configCheckHints() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try s.writeConfig("""
        repository = "\(s.repo)"
        password-file = "\(s.passwordFile)"
        state-dir = "\(s.path("state"))"

        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(s.root)"]
        schedule = "0 3 * * *"

        [[notify]]
        type = "sendmail"
        name = "mail"
        command = ["/bin/false"]
        to = ["ops@example.com"]

        [[notify]]
        type = "webhook"
        name = "hook"
        url = "http://127.0.0.1:9/hook"
        timeout = "3s"
        """)
        let r = try await s.kura(["config", "check", "--config", s.configPath])
        #expect(r.status == 1, "\(r)")
        #expect(!r.out.contains("check host, port, security and credentials"), "an SMTP hint for other channels: \(r.out)")
        #expect(r.out.contains("echo test | COMMAND") && r.out.contains("check the URL and headers"), "\(r.out)")
        #expect(!r.err.contains("report not sent"), "the failure was logged to the terminal as well: \(r.err)")
        #expect(r.out.components(separatedBy: "notify hook:").count == 2, "\(r.out)")
    }

    @Test("a hung report channel does not hold up the next source: reports go out while it runs, and the run waits for them at the end")
    func reportsDoNotDelayTheNextSource() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try s.write("a/file.txt", "a\n")
        try s.write("b/file.txt", "b\n")
        try s.writeConfig("""
        repository = "\(s.repo)"
        password-file = "\(s.passwordFile)"
        state-dir = "\(s.path("state"))"

        [[source]]
        name = "first"
        type = "directory"
        paths = ["\(s.path("a"))"]
        schedule = "0 3 * * *"

        [[source]]
        name = "second"
        type = "directory"
        paths = ["\(s.path("b"))"]
        schedule = "0 3 * * *"

        [[notify]]
        type = "sendmail"
        name = "hung"
        command = ["/bin/sh", "-c", "sleep 8"]
        to = ["ops@example.com"]
        on = "always"
        timeout = "6s"
        """)
        let r = try await s.kura(["run", "--config", s.configPath, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r)")
        let results = try #require(json["results"] as? [[String: Any]])
        try #require(results.count == 2)
        let reports = results.compactMap { $0["report"] as? [String: Any] }
        let iso = ISO8601DateFormatter()
        let firstStart = try #require((reports[0]["startedAt"] as? String).flatMap(iso.date(from:)))
        let firstSeconds = try #require(reports[0]["durationSeconds"] as? Double)
        let secondStart = try #require((reports[1]["startedAt"] as? String).flatMap(iso.date(from:)))
        // The first report's channel hangs for 6 s; the second source must not wait for it.
        #expect(secondStart.timeIntervalSince(firstStart.addingTimeInterval(firstSeconds)) < 4, "the second source waited for the first report: \(reports)")
        let deliveries = try #require(json["deliveries"] as? [[String: Any]])
        #expect(deliveries.count == 2 && deliveries.allSatisfy { ($0["error"] as? String)?.contains("6 s") == true }, "\(deliveries)")
    }

    @Test("a source over its time limit is stopped with its command, fails with a report that says so, and saves nothing")
    func timeLimit() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let marker = "kura-time-limit-\(UUID().uuidString.prefix(8))"
        try s.writeConfig("""
        repository = "\(s.repo)"
        password-file = "\(s.passwordFile)"
        state-dir = "\(s.path("state"))"

        [[source]]
        name = "slow"
        type = "command"
        command = "echo start; exec sleep 300 # \(marker)"
        schedule = "0 3 * * *"
        time-limit = "2s"
        """)
        let started = Date()
        let r = try await s.kura(["run", "--config", s.configPath])
        #expect(r.status == 1, "\(r)")
        #expect(Date().timeIntervalSince(started) < 120)
        #expect((r.out + r.err).contains("time limit"), "\(r)")
        let left = try TestProcess.command(["pgrep", "-f", marker])
        #expect(left.status != 0, "the command outlived its time limit: \(left.out)")
    }
}
