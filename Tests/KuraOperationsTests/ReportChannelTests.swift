import Foundation
import KuraNotify
@testable import KuraOperations
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
}
