import Foundation
import Testing
@testable import KuraNotify
import KuraTestSupport

@Suite("notifier: choosing channels, isolating failures, test messages")
struct NotifierTests {
    @Test func aBrokenChannelDoesNotStopTheOthers() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let mailServer = try TestServer.smtp()
        defer { mailServer.stop() }
        let hookServer = try TestServer.http()
        defer { hookServer.stop() }
        let failing = try scratch.script("failing", "echo 'sendmail: queue directory missing' >&2; exit 1")
        let keeping = try scratch.script("keeping", "cat > '\(scratch.file("kept.eml"))'")

        let notifier = Notifier(channels: [
            WebhookChannel(name: "dead-hook", when: .always, url: "http://127.0.0.1:\(closedPort())/x", timeoutSeconds: 5),
            SMTPChannel(name: "mail", when: .failure, host: "127.0.0.1", port: mailServer.port, security: .none, username: nil, password: nil,
                        from: "kura@web1.example", to: ["ops@example.com"], timeoutSeconds: 10),
            SendmailChannel(name: "broken-sendmail", when: .always, command: [failing, "-t"], from: "kura@web1.example", to: ["a@example.com"]),
            WebhookChannel(name: "hook", when: .always, url: "http://127.0.0.1:\(hookServer.port)/ok"),
            SendmailChannel(name: "sendmail", when: .failure, command: [keeping, "-t"], from: "kura@web1.example", to: ["a@example.com"]),
        ])
        let results = await notifier.deliver([Sample.success(), Sample.failure()], host: "web1")
        #expect(results.map(\.channel) == ["dead-hook", "mail", "broken-sendmail", "hook", "sendmail"])
        #expect(results[0].error?.contains("webhook http://127.0.0.1:") == true, "\(results[0])")
        #expect(results[1].error == nil, "\(results[1])")
        #expect(results[2].error?.contains("queue directory missing") == true, "\(results[2])")
        #expect(results[3].error == nil, "\(results[3])")
        #expect(results[4].error == nil, "\(results[4])")
        #expect(mailServer.recordCount == 1)
        #expect(hookServer.recordCount == 1)
        #expect(FileManager.default.fileExists(atPath: scratch.file("kept.eml")))
    }

    @Test func failureChannelsStayQuietWhenAllIsWell() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let hookServer = try TestServer.http()
        defer { hookServer.stop() }
        let keeping = try scratch.script("keeping", "cat > '\(scratch.file("kept.eml"))'")
        let notifier = Notifier(channels: [
            SendmailChannel(name: "on-failure", when: .failure, command: [keeping, "-t"], from: "kura@web1.example", to: ["a@example.com"]),
            WebhookChannel(name: "always", when: .always, url: "http://127.0.0.1:\(hookServer.port)/ok", format: .ntfy),
        ])
        let results = await notifier.deliver([Sample.success(), Sample.success("db")], host: "web1")
        #expect(results.map(\.channel) == ["always"])
        #expect(results.allSatisfy { $0.error == nil })
        #expect(!FileManager.default.fileExists(atPath: scratch.file("kept.eml")))
        #expect(hookServer.recordCount == 1)

        // Nothing ran: nothing is sent, not even to "always" channels.
        #expect(await notifier.deliver([], host: "web1").isEmpty)
        #expect(hookServer.recordCount == 1)
    }

    @Test func testMessageGoesToEveryChannel() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let mailServer = try TestServer.smtp()
        defer { mailServer.stop() }
        let keeping = try scratch.script("keeping", "cat > '\(scratch.file("kept.eml"))'")
        let notifier = Notifier(channels: [
            SMTPChannel(name: "mail", when: .failure, host: "127.0.0.1", port: mailServer.port, security: .none, username: nil, password: nil,
                        from: "kura@web1.example", to: ["ops@example.com"]),
            SendmailChannel(name: "sendmail", when: .failure, command: [keeping, "-t"], from: "kura@web1.example", to: ["a@example.com"]),
            WebhookChannel(name: "dead", when: .always, url: "http://127.0.0.1:\(closedPort())/", timeoutSeconds: 5),
        ])
        let results = await notifier.test(host: "web1")
        #expect(results.map(\.channel) == ["mail", "sendmail", "dead"])
        #expect(results[0].error == nil && results[1].error == nil)
        #expect(results[2].error != nil)
        let mail = try #require(try mailServer.records().first?["message"] as? [String: Any])
        #expect((mail["subject"] as? String)?.hasPrefix("[kura] TEST web1 ") == true)
        #expect((mail["headers"] as? [String: String])?["X-Kura-Result"] == "test")
        #expect(try String(contentsOfFile: scratch.file("kept.eml"), encoding: .utf8).contains("TEST message"))
    }
}
