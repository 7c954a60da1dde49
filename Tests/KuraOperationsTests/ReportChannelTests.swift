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
}
