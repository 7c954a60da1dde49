import Foundation
import KuraCore
import Testing
@testable import KuraNotify
import KuraTestSupport

/// The sendmail channel with stand-in commands: one that keeps what it is given, one that fails.
@Suite("sendmail channel")
struct SendmailChannelTests {
    /// A sendmail stand-in that writes its standard input to `mail.eml` and its arguments to `args.txt`.
    private func keeper(_ scratch: TemporaryFolder) throws -> String {
        try scratch.script("sendmail", """
        cat > '\(scratch.file("mail.eml"))'
        printf '%s\\n' "$@" > '\(scratch.file("args.txt"))'
        env > '\(scratch.file("env.txt"))'
        """)
    }

    @Test func pipesTheMessageToTheCommand() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let command = [try keeper(scratch), "-t", "-i"]
        let message = ReportRenderer.render([Sample.failure("写真"), Sample.success()], host: "web1", timeZone: Sample.utc)
        try await SendmailChannel(name: "msmtp", when: .failure, command: command, from: "kura@web1.example",
                                  to: ["ops@example.com", "b@example.com"]).send(message)

        let raw = try String(contentsOfFile: scratch.file("mail.eml"), encoding: .utf8)
        #expect(!raw.contains("\r"), "local line ends for a sendmail command")
        #expect(raw.contains("\nTo: ops@example.com, b@example.com\n"))
        #expect(raw.contains("\nFrom: kura@web1.example\n"))
        #expect(raw.contains("\nMIME-Version: 1.0\n"))
        #expect(try String(contentsOfFile: scratch.file("args.txt"), encoding: .utf8) == "-t\n-i\n")
        #expect(try !String(contentsOfFile: scratch.file("env.txt"), encoding: .utf8).contains("KURA_PASSWORD"))

        let mail = try parseMail(scratch.file("mail.eml"))
        #expect(mail["subject"] as? String == message.subject)
        #expect((mail["defects"] as? [Any])?.isEmpty == true)
        let parts = try #require(mail["parts"] as? [[String: Any]])
        #expect(parts.first?["content"] as? String == message.text)
        #expect(parts.last?["content"] as? String == message.html)
    }

    @Test func recipientsBecomeArgumentsWithoutDashT() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let long = "Ünïcödé Operations Team of the Backup Department (nights and weekends)"
        try await SendmailChannel(name: "sendmail", when: .always, command: [try keeper(scratch), "-oi"], from: "Kura on web1 <kura@web1.example>",
                                  to: ["Ops <ops@example.com>", "b@example.com", "\(long) <long@example.com>", "o'brien@example.com"])
            .send(ReportRenderer.render([Sample.success()], host: "web1"))
        #expect(try String(contentsOfFile: scratch.file("args.txt"), encoding: .utf8)
                == "-oi\n--\nops@example.com\nb@example.com\nlong@example.com\no'brien@example.com\n")
        let mail = try parseMail(scratch.file("mail.eml"))
        // (Python quotes the name for its parentheses, and keeps the fold between encoded words as a space.)
        let to = try #require(mail["to"] as? [String])
        #expect(to.count == 4)
        #expect(to[0] == "Ops <ops@example.com>" && to[1] == "b@example.com" && to[3] == "o'brien@example.com", "\(to)")
        #expect(to[2].replacingOccurrences(of: "  ", with: " ") == "\"\(long)\" <long@example.com>", "\(to[2])")
        #expect(mail["from"] as? String == "Kura on web1 <kura@web1.example>")
        #expect((mail["defects"] as? [Any])?.isEmpty == true)
    }

    @Test func awkwardLinesSurviveQuotedPrintable() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        var report = Sample.failure()
        let long = String(repeating: "ü=x ", count: 60)
        report.logTail = [".", "From the log: something", ". starts with a dot", "trailing space ", long, "tab\there"]
        let message = ReportRenderer.render([report], host: "web1", timeZone: Sample.utc)
        try await SendmailChannel(name: "sendmail", when: .always, command: [try keeper(scratch), "-t"], from: "kura@web1.example",
                                  to: ["ops@example.com"]).send(message)
        let raw = try String(contentsOfFile: scratch.file("mail.eml"), encoding: .utf8)
        let body = try #require(raw.range(of: "\n\n")).upperBound
        for line in raw[..<body].split(separator: "\n") { #expect(line.utf8.count <= 78, "header line too long: \(line)") }
        for line in raw[body...].split(separator: "\n", omittingEmptySubsequences: false) {
            #expect(line.utf8.count <= 76, "line too long: \(line)")
            #expect(line != ".", "a lone dot ends the message for sendmail without -i")
            #expect(!line.hasPrefix("From "), "mbox readers take it for a new message")
        }
        let parts = try #require(try parseMail(scratch.file("mail.eml"))["parts"] as? [[String: Any]])
        #expect(parts.first?["content"] as? String == message.text)
    }

    @Test func failingCommandIsAnErrorWithItsOutput() async throws {
        let scratch = try TemporaryFolder("kura-notify")
        let failing = try scratch.script("msmtp", """
        echo "msmtp: cannot connect to mail.example.com, port 587: Connection refused" >&2
        echo "msmtp: could not send mail (account default from /etc/msmtprc)" >&2
        exit 1
        """)
        let error = await #expect(throws: KuraError.self) {
            try await SendmailChannel(name: "msmtp", when: .always, command: [failing, "-t"], from: "kura@web1.example", to: ["ops@example.com"])
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        let text = try #require(error).description
        #expect(text.contains("exited with status 1"), "\(text)")
        #expect(text.contains("could not send mail (account default from /etc/msmtprc)"), "\(text)")
        #expect(text.contains("Connection refused"), "\(text)")
    }

    @Test func commandThatReadsNothingAndExitsEarly() async throws {
        // A big message and a command that never reads it: no SIGPIPE for kura, just the exit status.
        let scratch = try TemporaryFolder("kura-notify")
        let quitter = try scratch.script("quitter", "exit 75")
        var report = Sample.failure()
        report.logTail = (0..<5000).map { "line \($0) " + String(repeating: "x", count: 60) }
        let error = await #expect(throws: KuraError.self) {
            try await SendmailChannel(name: "q", when: .always, command: [quitter], from: "kura@web1.example", to: ["ops@example.com"])
                .send(ReportRenderer.render([report], host: "web1"))
        }
        #expect(try #require(error).description.contains("exited with status 75"))
    }

    @Test func missingCommandAndTimeout() async throws {
        await #expect(throws: KuraError.self) {
            try await SendmailChannel(name: "x", when: .always, command: ["/nonexistent/sendmail", "-t"], from: "kura@web1.example", to: ["a@example.com"])
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        let scratch = try TemporaryFolder("kura-notify")
        let sleeper = try scratch.script("sleeper", "exec sleep 300")
        let started = Date()
        let error = await #expect(throws: KuraError.self) {
            try await SendmailChannel(name: "x", when: .always, command: [sleeper], from: "kura@web1.example", to: ["a@example.com"], timeoutSeconds: 1)
                .send(ReportRenderer.render([Sample.failure()], host: "web1"))
        }
        #expect(try #require(error).description.contains("did not finish within 1 s"))
        // Well before the 300 s the command would take on its own (loose: with the whole suite running on
        // 2 cores, 45 s was seen).
        #expect(Date().timeIntervalSince(started) < 150)
    }
}
