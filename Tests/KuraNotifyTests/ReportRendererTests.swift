import Foundation
import Testing
@testable import KuraNotify
import KuraTestSupport

@Suite("report rendering: subjects, text, HTML, JSON")
struct ReportRendererTests {
    @Test func subjectsSortAndSayWhatHappened() {
        let failed = ReportRenderer.render([Sample.success(), Sample.failure()], host: "web1", timeZone: Sample.utc)
        #expect(failed.subject == "[kura] FAILED web1 db 2026-11-29 17:00")
        #expect(!failed.success)

        let three = ReportRenderer.render([Sample.success("a"), Sample.success("b"), Sample.success("c")], host: "web1", timeZone: Sample.utc)
        #expect(three.subject == "[kura] ok web1 3 sources 2026-11-29 17:00")
        #expect(three.success)

        let one = ReportRenderer.render([Sample.success("db", kind: "postgres")], host: "web1", timeZone: Sample.utc)
        #expect(one.subject == "[kura] ok web1 db 2026-11-29 17:00")

        let many = ReportRenderer.render((1...5).map { Sample.failure("s\($0)") }, host: "web1", timeZone: Sample.utc)
        #expect(many.subject == "[kura] FAILED web1 s1,s2,s3 +2 2026-11-29 17:00")

        // The host's time zone decides the minute shown.
        let tokyo = ReportRenderer.render([Sample.success()], host: "web1", timeZone: TimeZone(identifier: "Asia/Tokyo")!)
        #expect(tokyo.subject.hasSuffix("2026-11-30 02:00"), "\(tokyo.subject)")

        // A newline in a name cannot break the subject line.
        let odd = ReportRenderer.render([Sample.failure("bad\nname")], host: "web1", timeZone: Sample.utc)
        #expect(!odd.subject.contains("\n"))
    }

    @Test func successReportCarriesTheFacts() {
        let message = ReportRenderer.render([Sample.success()], host: "web1", timeZone: Sample.utc)
        let text = message.text
        for fact in ["ok: media (docker-volume)", "snapshot      1a2b3c4d", "files         1,234", "logical size  1.21 GiB",
                     "added         12.00 MiB (stored 4.00 MiB)", "dedup ratio   103.3x", "duration      1 min 12 s",
                     "check         ok (read 1/7 of the data)", "retained      7 snapshots", "repository    /backup/kura",
                     "1 source backed up successfully."] {
            #expect(text.contains(fact), "missing \(fact) in\n\(text)")
        }
        #expect(!text.contains("FAILED"))
        #expect(message.summary.contains("ok media (docker-volume): snapshot 1a2b3c4d, 12.00 MiB added, dedup 103.3x"), "\(message.summary)")
    }

    @Test func failureReportSaysWhatBrokeWhatIsSafeAndWhatToDo() throws {
        let message = ReportRenderer.render([Sample.success(), Sample.failure()], host: "web1", timeZone: Sample.utc)
        let text = message.text
        let failedAt = try #require(text.range(of: "== FAILED: db (postgres) =="))
        let okAt = try #require(text.range(of: "== ok: media (docker-volume) =="))
        #expect(failedAt.lowerBound < okAt.lowerBound, "failed sources come first")
        for fact in ["1 of 2 sources FAILED: db.", "error         pg_dump exited with status 1",
                     "                hint: is the server running?",
                     "still safe    snapshot 9f8e7d6c from 2026-11-28 17:00 (the last good backup of this source)",
                     "next step     start PostgreSQL", "log tail (last 2 lines):",
                     "    17:00:08 error kura.run: pg_dump failed <stderr follows> & more"] {
            #expect(text.contains(fact), "missing \(fact) in\n\(text)")
        }
        #expect(message.summary.hasPrefix("[kura] FAILED web1 db"))
        #expect(message.summary.contains("FAILED db (postgres): pg_dump exited with status 1"), "\(message.summary)")

        var unknown = Sample.failure()
        unknown.lastGoodSnapshot = nil
        unknown.error = nil
        let bare = ReportRenderer.render([unknown], host: "web1", timeZone: Sample.utc).text
        #expect(bare.contains("no earlier good snapshot"))
        #expect(bare.contains("unknown error"))
    }

    @Test func htmlEscapesEverything() {
        var evil = Sample.failure("<script>alert(1)</script>")
        evil.error = "broken & <b>bold</b> \"quoted\" 'single'"
        let html = ReportRenderer.render([evil], host: "web<1>", timeZone: Sample.utc).html
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<b>bold"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("broken &amp; &lt;b&gt;bold&lt;/b&gt; &quot;quoted&quot; &#39;single&#39;"))
        #expect(html.contains("web&lt;1&gt;"))
        #expect(html.contains("pg_dump failed &lt;stderr follows&gt; &amp; more"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
    }

    @Test func jsonHoldsEveryReport() throws {
        var noNew = Sample.success("idle")
        noNew.bytesAdded = 0
        noNew.dedupRatio = .infinity  // a careless caller: still valid JSON
        let message = ReportRenderer.render([Sample.failure(), noNew], host: "web1", timeZone: Sample.utc)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(message.json)) as? [String: Any])
        #expect(doc["kura"] as? String == "report")
        #expect(doc["version"] as? Int == 1)
        #expect(doc["host"] as? String == "web1")
        #expect(doc["success"] as? Bool == false)
        #expect(doc["test"] as? Bool == false)
        #expect(doc["failed"] as? [String] == ["db"])
        #expect(doc["subject"] as? String == message.subject)
        let reports = try #require(doc["reports"] as? [[String: Any]])
        #expect(reports.count == 2)
        #expect(reports[0]["source"] as? String == "db")
        #expect(reports[0]["lastGoodSnapshot"] as? String == "9f8e7d6c")
        #expect(reports[0]["startedAt"] as? String == "2026-11-29T17:00:07Z")
        #expect(reports[1]["dedupRatio"] as? Double == 0)
        // RunReport decodes back from it.
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        struct Doc: Decodable { var reports: [RunReport] }
        let back = try decoder.decode(Doc.self, from: Data(message.json))
        #expect(back.reports.first == Sample.failure())
        #expect(message.text.contains("dedup ratio   no new data"))
    }

    @Test func testMessageIsClearlyMarked() throws {
        let message = ReportRenderer.renderTest(host: "web1", timeZone: Sample.utc, now: Sample.start)
        #expect(message.subject == "[kura] TEST web1 2026-11-29 17:00")
        #expect(message.isTest)
        #expect(message.text.contains("This is a TEST message"))
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(message.json)) as? [String: Any])
        #expect(doc["test"] as? Bool == true)
    }

    @Test func formats() {
        #expect(ReportFormat.bytes(0) == "0 B")
        #expect(ReportFormat.bytes(1536) == "1.50 KiB")
        #expect(ReportFormat.count(0) == "0")
        #expect(ReportFormat.count(999) == "999")
        #expect(ReportFormat.count(1_000) == "1,000")
        #expect(ReportFormat.count(-1_234_567) == "-1,234,567")
        #expect(ReportFormat.duration(0.42) == "0.4 s")
        #expect(ReportFormat.duration(65) == "1 min 05 s")
        #expect(ReportFormat.duration(7_380) == "2 h 03 min")
        #expect(ReportFormat.jsonString("a\"b\\c\n\u{1}") == "\"a\\\"b\\\\c\\n\\u0001\"")
    }

    @Test func redaction() {
        #expect(Redaction.location("/backup/kura") == "/backup/kura")
        #expect(Redaction.location("sftp://backup:s3cret@nas:22/kura") == "sftp://backup:***@nas:22/kura")
        #expect(Redaction.location("s3://key@bucket/x") == "s3://key@bucket/x")
        #expect(Redaction.endpoint("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/…")
        #expect(Redaction.endpoint("https://user:pw@ntfy.example:8443/topic?auth=abc") == "https://ntfy.example:8443/…")
        #expect(Redaction.endpoint("http://127.0.0.1:8080") == "http://127.0.0.1:8080")
        #expect(Redaction.scrub("login pw=hunter2 failed", secrets: ["hunter2", nil, ""]) == "login pw=*** failed")
    }
}
