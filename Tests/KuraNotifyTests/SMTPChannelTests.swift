import Foundation
import KuraCore
import Testing
@testable import KuraNotify
import KuraTestSupport

/// Reports sent to a real SMTP server (aiosmtpd) on loopback, parsed back with Python's e-mail package.
@Suite("SMTP channel against a real SMTP server")
struct SMTPChannelTests {
    private func channel(_ server: TestServer, security: SMTPChannel.Security = .none, user: String? = nil, password: String? = nil,
                         to: [String] = ["ops@example.com"], caFile: String? = nil, insecure: Bool = false) -> SMTPChannel {
        SMTPChannel(name: "mail", when: .always, host: "127.0.0.1", port: server.port, security: security, username: user, password: password,
                    from: "kura <kura@web1.example>", to: to, timeoutSeconds: 10, caFile: caFile, insecureSkipVerify: insecure)
    }

    /// The text with "\n" line ends.
    private func lf(_ s: String) -> String { s.replacingOccurrences(of: "\r\n", with: "\n") }

    @Test func deliversTextAndHTMLToSeveralRecipientsWithAJapaneseSubject() async throws {
        let server = try TestServer.smtp()
        defer { server.stop() }
        var report = Sample.failure("データベース")
        report.error = "接続できません <fatal> & 終了\n  hint: サーバーを確認"
        let message = ReportRenderer.render([report, Sample.success()], host: "web1", timeZone: Sample.utc)
        #expect(message.subject == "[kura] FAILED web1 データベース 2026-11-29 17:00")

        try await channel(server, to: ["ops@example.com", "Ops Team <team@example.com>", "\"Müller, Jörg\" <jm@example.com>"]).send(message)

        let record = try #require(try server.records().first)
        #expect(record["mailFrom"] as? String == "kura@web1.example")
        #expect(record["rcptTos"] as? [String] == ["ops@example.com", "team@example.com", "jm@example.com"])
        #expect(record["tls"] as? Bool == false)
        var name = [CChar](repeating: 0, count: 256)
        _ = gethostname(&name, 255)
        let hostName = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(record["ehlo"] as? String == hostName, "kura introduces itself by this host's name")
        let mail = try #require(record["message"] as? [String: Any])
        #expect(mail["subject"] as? String == message.subject)
        let rawSubject = try #require(mail["rawSubject"] as? String)
        #expect(rawSubject.hasPrefix("=?UTF-8?B?"), "\(rawSubject)")
        #expect(rawSubject.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(mail["to"] as? [String] == ["ops@example.com", "Ops Team <team@example.com>", "\"Müller, Jörg\" <jm@example.com>"])
        #expect(mail["from"] as? String == "kura <kura@web1.example>")
        #expect(mail["mimeVersion"] as? String == "1.0")
        #expect(mail["contentType"] as? String == "multipart/alternative")
        #expect((mail["messageID"] as? String)?.hasSuffix("@web1.example>") == true)
        #expect((mail["date"] as? String)?.isEmpty == false)
        #expect((mail["defects"] as? [Any])?.isEmpty == true, "\(mail["defects"] ?? "")")
        let headers = try #require(mail["headers"] as? [String: String])
        #expect(headers["X-Kura-Result"] == "failed")
        #expect(headers["Auto-Submitted"] == "auto-generated")

        let parts = try #require(mail["parts"] as? [[String: Any]])
        #expect(parts.map { $0["contentType"] as? String } == ["text/plain", "text/html"])
        #expect(parts.allSatisfy { $0["charset"] as? String == "utf-8" })
        // (Python keeps the SMTP line ends, CRLF, in a decoded part.)
        #expect((parts[0]["content"] as? String).map(lf) == message.text)
        #expect((parts[1]["content"] as? String).map(lf) == message.html)
        let text = try #require(parts[0]["content"] as? String)
        #expect(text.contains("接続できません <fatal> & 終了"))
        #expect(text.contains("still safe    snapshot 9f8e7d6c"))
        let html = try #require(parts[1]["content"] as? String)
        #expect(html.contains("接続できません &lt;fatal&gt; &amp; 終了"))
    }

    @Test func starttlsWithLoginAuthAndAPrivateCA() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let cert = try TestCertificate(in: scratch)
        let server = try TestServer.smtp(["--starttls", cert.certificate, cert.key, "--auth", "kura", "pässword s3cret", "--auth-mechanisms", "LOGIN"])
        defer { server.stop() }
        let message = ReportRenderer.render([Sample.success()], host: "web1", timeZone: Sample.utc)
        try await channel(server, security: .starttls, user: "kura", password: "pässword s3cret", caFile: cert.certificate).send(message)
        let record = try #require(try server.records().first)
        #expect(record["tls"] as? Bool == true)
        #expect(record["authenticated"] as? Bool == true)
        let mail = try #require(record["message"] as? [String: Any])
        #expect(mail["subject"] as? String == "[kura] ok web1 media 2026-11-29 17:00")
        #expect((mail["headers"] as? [String: String])?["X-Kura-Result"] == "ok")
    }

    @Test func starttlsWithPlainAuthSkippingVerification() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let cert = try TestCertificate(in: scratch)
        let server = try TestServer.smtp(["--starttls", cert.certificate, cert.key, "--auth", "kura", "s3cret", "--auth-mechanisms", "PLAIN"])
        defer { server.stop() }
        try await channel(server, security: .starttls, user: "kura", password: "s3cret", insecure: true)
            .send(ReportRenderer.render([Sample.success()], host: "web1"))
        let record = try #require(try server.records().first)
        #expect(record["tls"] as? Bool == true)
        #expect(record["authenticated"] as? Bool == true)
    }

    @Test func implicitTLS() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let cert = try TestCertificate(in: scratch)
        let server = try TestServer.smtp(["--implicit-tls", cert.certificate, cert.key, "--auth", "kura", "s3cret"])
        defer { server.stop() }
        try await channel(server, security: .tls, user: "kura", password: "s3cret", caFile: cert.certificate)
            .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        let record = try #require(try server.records().first)
        #expect(record["authenticated"] as? Bool == true)
        #expect(record["rcptTos"] as? [String] == ["ops@example.com"])
    }

    @Test func wrongPasswordFailsClearlyWithoutShowingIt() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let cert = try TestCertificate(in: scratch)
        let server = try TestServer.smtp(["--starttls", cert.certificate, cert.key, "--auth", "kura", "right-password"])
        defer { server.stop() }
        let secret = "wr0ng-Passw0rd"
        let error = await #expect(throws: KuraError.self) {
            try await channel(server, security: .starttls, user: "kura", password: secret, caFile: cert.certificate)
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        let text = try #require(error).description
        #expect(text.contains("refused the login for user \"kura\""), "\(text)")
        #expect(text.contains("127.0.0.1:\(server.port)"), "\(text)")
        #expect(text.contains("check the user name and the password"), "\(text)")
        #expect(!text.contains(secret))
        #expect(!text.contains(Data(secret.utf8).base64EncodedString()))
        #expect(server.recordCount == 0)
        // Printing or dumping the channel does not show the password either.
        let ch = channel(server, security: .starttls, user: "kura", password: secret)
        var dumped = ""
        dump(ch, to: &dumped)
        #expect(!dumped.contains(secret) && !"\(ch)".contains(secret) && !String(reflecting: ch).contains(secret))
    }

    @Test func untrustedCertificateIsRefused() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let cert = try TestCertificate(in: scratch)
        let server = try TestServer.smtp(["--starttls", cert.certificate, cert.key])
        defer { server.stop() }
        let error = await #expect(throws: KuraError.self) {
            try await channel(server, security: .starttls).send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        let text = try #require(error).description
        #expect(text.contains("ca-file"), "\(text)")
        #expect(server.recordCount == 0)
    }

    @Test func starttlsRequiredButNotOffered() async throws {
        let server = try TestServer.smtp()
        defer { server.stop() }
        let error = await #expect(throws: KuraError.self) {
            try await channel(server, security: .starttls).send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        #expect(try #require(error).description.contains("STARTTLS"), "\(String(describing: error))")
        #expect(server.recordCount == 0)
    }

    @Test func nothingListening() async throws {
        let port = closedPort()
        let ch = SMTPChannel(name: "mail", when: .always, host: "127.0.0.1", port: port, security: .none, username: nil, password: nil,
                             from: "kura@web1.example", to: ["ops@example.com"], timeoutSeconds: 5)
        let error = await #expect(throws: KuraError.self) { try await ch.send(ReportRenderer.render([Sample.failure()], host: "web1")) }
        let text = try #require(error).description
        #expect(text.contains("127.0.0.1:\(port)"), "\(text)")
        #expect(text.contains("reachable"), "\(text)")
    }

    @Test func headerInjectionIsRejected() async throws {
        let ch = SMTPChannel(name: "mail", when: .always, host: "127.0.0.1", port: 25, security: .none, username: nil, password: nil,
                             from: "kura@web1.example", to: ["ops@example.com\r\nBcc: everyone@example.com"])
        await #expect(throws: KuraError.self) { try await ch.send(ReportRenderer.render([Sample.failure()], host: "web1")) }
    }
}
