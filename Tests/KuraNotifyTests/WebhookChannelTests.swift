import Foundation
import KuraCore
import Testing
@testable import KuraNotify
import KuraTestSupport

/// Webhooks POSTed to a real HTTP server (Python's http.server) on loopback.
@Suite("webhook channel against a real HTTP server")
struct WebhookChannelTests {
    private func header(_ record: [String: Any], _ name: String) -> String? {
        (record["headers"] as? [String: String])?.first { $0.key.lowercased() == name.lowercased() }?.value
    }

    @Test func jsonBodyWithCustomHeaders() async throws {
        let server = try TestServer.http()
        defer { server.stop() }
        let message = ReportRenderer.render([Sample.success(), Sample.failure()], host: "web1", timeZone: Sample.utc)
        try await WebhookChannel(name: "hook", when: .always, url: "http://127.0.0.1:\(server.port)/hooks/kura",
                                 headers: ["Authorization": "Bearer t0ken", "X-Team": "ops"]).send(message)
        let record = try #require(try server.records().first)
        #expect(record["method"] as? String == "POST")
        #expect(record["path"] as? String == "/hooks/kura")
        #expect(header(record, "Content-Type") == "application/json")
        #expect(header(record, "Authorization") == "Bearer t0ken")
        #expect(header(record, "X-Team") == "ops")
        #expect(header(record, "User-Agent") == "kura")
        let body = try #require(record["body"] as? String)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(doc["host"] as? String == "web1")
        #expect(doc["success"] as? Bool == false)
        #expect(doc["failed"] as? [String] == ["db"])
        #expect(doc["subject"] as? String == "[kura] FAILED web1 db 2026-11-29 17:00")
        let reports = try #require(doc["reports"] as? [[String: Any]])
        #expect(reports.map { $0["source"] as? String } == ["media", "db"])
        #expect(reports[1]["error"] as? String == Sample.failure().error)
        #expect(reports[1]["nextStep"] as? String == Sample.failure().nextStep)
        #expect(reports[0]["snapshotID"] as? String == "1a2b3c4d")
        #expect(reports[0]["bytesAdded"] as? Int == 12_582_912)
    }

    @Test func slackFormat() async throws {
        let server = try TestServer.http()
        defer { server.stop() }
        var failure = Sample.failure()
        failure.error = "disk full <sda1> & more"
        let message = ReportRenderer.render([failure], host: "web1", timeZone: Sample.utc)
        try await WebhookChannel(name: "slack", when: .failure, url: "http://127.0.0.1:\(server.port)/services/T0/B0/XYZ", format: .slack).send(message)
        let record = try #require(try server.records().first)
        #expect(header(record, "Content-Type") == "application/json")
        let body = try #require(record["body"] as? String)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(doc.keys.sorted() == ["text"])
        let text = try #require(doc["text"] as? String)
        #expect(text.hasPrefix("*[kura] FAILED web1 db 2026-11-29 17:00*\n"), "\(text)")
        #expect(text.contains("FAILED db (postgres): disk full &lt;sda1&gt; &amp; more; last good snapshot 9f8e7d6c"), "\(text)")
    }

    @Test func ntfyFormat() async throws {
        let server = try TestServer.http()
        defer { server.stop() }
        let failed = ReportRenderer.render([Sample.failure(), Sample.success()], host: "web1", timeZone: Sample.utc)
        try await WebhookChannel(name: "ntfy", when: .always, url: "http://127.0.0.1:\(server.port)/kura-backups", format: .ntfy).send(failed)
        let ok = ReportRenderer.render([Sample.success("写真")], host: "web1", timeZone: Sample.utc)
        try await WebhookChannel(name: "ntfy", when: .always, url: "http://127.0.0.1:\(server.port)/kura-backups", format: .ntfy).send(ok)

        let records = try server.records(atLeast: 2)
        try #require(records.count == 2)
        #expect(header(records[0], "Title") == "[kura] FAILED web1 db 2026-11-29 17:00")
        #expect(header(records[0], "Priority") == "high")
        #expect(header(records[0], "Tags") == "rotating_light")
        #expect(header(records[0], "Content-Type") == "text/plain; charset=utf-8")
        let body = try #require(records[0]["body"] as? String)
        #expect(body.hasPrefix("FAILED db (postgres): pg_dump exited with status 1"), "\(body)")
        #expect(body.contains("\nok media (docker-volume): snapshot 1a2b3c4d"), "\(body)")
        #expect(!body.hasPrefix("["), "the subject is the title, not part of the body")

        // A non-ASCII title travels as an RFC 2047 encoded word (ntfy decodes those).
        let title = try #require(header(records[1], "Title"))
        #expect(title.hasPrefix("=?UTF-8?B?") && title.unicodeScalars.allSatisfy { $0.isASCII }, "\(title)")
        #expect(header(records[1], "Priority") == "default")
        #expect((records[1]["body"] as? String)?.hasPrefix("ok 写真 (docker-volume)") == true)
    }

    @Test func serverErrorIsAnErrorWithTheAnswerAndNoSecrets() async throws {
        let server = try TestServer.http()
        defer { server.stop() }
        let url = "http://hookuser:hookpass123@127.0.0.1:\(server.port)/status/500?token=s3cr3tT0ken"
        let error = await #expect(throws: KuraError.self) {
            try await WebhookChannel(name: "hook", when: .always, url: url, headers: ["Authorization": "Bearer abcdef123"])
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        let text = try #require(error).description
        #expect(text.contains("answered HTTP 500: server says 500: the database is on fire"), "\(text)")
        #expect(text.contains("http://127.0.0.1:\(server.port)/…"), "\(text)")
        #expect(text.count < 700, "the answer is quoted only at its start")
        for secret in ["hookpass123", "s3cr3tT0ken", "abcdef123", "/status/500"] { #expect(!text.contains(secret), "\(secret) in \(text)") }
        #expect(server.recordCount == 1)

        let forbidden = await #expect(throws: KuraError.self) {
            try await WebhookChannel(name: "hook", when: .always, url: "http://127.0.0.1:\(server.port)/status/403")
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        #expect(try #require(forbidden).hint?.contains("token") == true)
    }

    @Test func nothingListeningAndBadURLs() async throws {
        let port = closedPort()
        let error = await #expect(throws: KuraError.self) {
            try await WebhookChannel(name: "hook", when: .always, url: "http://127.0.0.1:\(port)/secret-path", timeoutSeconds: 5)
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        let text = try #require(error).description
        #expect(text.contains("webhook http://127.0.0.1:\(port)/… failed"), "\(text)")
        #expect(!text.contains("secret-path"))

        await #expect(throws: KuraError.self) {
            try await WebhookChannel(name: "hook", when: .always, url: "file:///etc/passwd").send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        await #expect(throws: KuraError.self) {
            try await WebhookChannel(name: "hook", when: .always, url: "http://127.0.0.1:\(port)/", headers: ["X-Evil": "a\r\nInjected: 1"])
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
    }
}
