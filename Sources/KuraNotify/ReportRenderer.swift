import Foundation

/// Turns the reports of one `kura run` into a message: a subject line that sorts well in a mailbox,
/// a plain-text body, a simple HTML body (every value escaped) and JSON.
///
/// Subjects: `[kura] FAILED web1 db 2026-11-29 17:00` when a source failed (its names, up to three),
/// `[kura] ok web1 3 sources 2026-11-29 17:00` (or the source's name when there is one) otherwise. The
/// time is when the run started, in the host's time zone. Failed sources come first in the bodies.
public enum ReportRenderer {
    /// The message for the reports of one run on `host`. Times are shown in `timeZone` (the host's).
    public static func render(_ reports: [RunReport], host: String, timeZone: TimeZone = .current) -> ReportMessage {
        let failed = reports.filter { !$0.success }
        let ordered = failed + reports.filter(\.success)
        let started = reports.map(\.startedAt).min() ?? Date()
        let when = ReportFormat.minute(started, timeZone)

        var subject = "[kura] "
        if failed.isEmpty {
            subject += "ok \(host) " + (reports.count == 1 ? reports[0].source : "\(reports.count) sources")
        } else {
            let names = failed.prefix(3).map(\.source).joined(separator: ",")
            subject += "FAILED \(host) \(names)" + (failed.count > 3 ? " +\(failed.count - 3)" : "")
        }
        subject += " " + when
        subject = oneLine(subject)

        let headline = failed.isEmpty
            ? (reports.count == 1 ? "1 source backed up successfully." : "All \(reports.count) sources backed up successfully.")
            : "\(failed.count) of \(reports.count) source\(reports.count == 1 ? "" : "s") FAILED: \(failed.map(\.source).joined(separator: ", "))."
        let title = "kura backup report for \(host), \(when) (\(ReportFormat.zoneName(started, timeZone)))"

        var text = title + "\n" + headline + "\n"
        var html = htmlHead(subject) + "<h2>\(ReportFormat.html(title))</h2>\n"
            + "<p style=\"font-weight:bold;color:\(failed.isEmpty ? "#1a7f37" : "#b00020")\">\(ReportFormat.html(headline))</p>\n"
        for report in ordered {
            let heading = "\(report.success ? "ok" : "FAILED"): \(report.source) (\(report.kind))"
            let rows = self.rows(report, timeZone, host: host)
            text += "\n== \(heading) ==\n" + textTable(rows)
            html += "<h3 style=\"color:\(report.success ? "#1a7f37" : "#b00020")\">\(ReportFormat.html(heading))</h3>\n" + htmlTable(rows)
            if !report.success, !report.logTail.isEmpty {
                text += "log tail (last \(report.logTail.count) lines):\n" + report.logTail.map { "    " + $0 }.joined(separator: "\n") + "\n"
                html += "<p>log tail (last \(report.logTail.count) lines):</p>\n<pre style=\"background:#f6f8fa;padding:8px;font-size:12px\">"
                    + ReportFormat.html(report.logTail.joined(separator: "\n")) + "</pre>\n"
            }
        }
        text += "\n-- \nSent by kura on \(host).\n"
        html += "<p style=\"color:#666;font-size:12px\">Sent by kura on \(ReportFormat.html(host)).</p>\n</body>\n</html>\n"

        let summary = ([subject] + ordered.map(summaryLine)).joined(separator: "\n")
        let json = ReportDocument(test: false, host: host, subject: subject, success: failed.isEmpty, sources: reports.count,
                                  failed: failed.map(\.source), generatedAt: Date(), reports: reports).encoded()
        return ReportMessage(subject: subject, text: text, html: html, json: json, summary: summary, success: failed.isEmpty, isTest: false)
    }

    /// The clearly marked test message `kura config check` sends to every channel.
    public static func renderTest(host: String, timeZone: TimeZone = .current, now: Date = Date()) -> ReportMessage {
        let when = ReportFormat.minute(now, timeZone)
        let subject = oneLine("[kura] TEST \(host) \(when)")
        let body = "This is a TEST message from kura on \(host), sent by `kura config check` at \(when) "
            + "(\(ReportFormat.zoneName(now, timeZone))).\nNo backup ran. If you can read this, reports from this host reach you."
        let text = body + "\n\n-- \nSent by kura on \(host).\n"
        let html = htmlHead(subject) + "<h2>kura: TEST message</h2>\n<p>" + ReportFormat.html(body).replacingOccurrences(of: "\n", with: "<br>\n")
            + "</p>\n</body>\n</html>\n"
        let json = ReportDocument(test: true, host: host, subject: subject, success: true, sources: 0, failed: [],
                                  generatedAt: now, reports: []).encoded()
        return ReportMessage(subject: subject, text: text, html: html, json: json,
                             summary: subject + "\nThis is a test message from `kura config check`: no backup ran.", success: true, isTest: true)
    }

    /// The label/value rows of one source's section, in reading order.
    static func rows(_ r: RunReport, _ zone: TimeZone, host: String) -> [(String, String)] {
        var rows: [(String, String)] = []
        if !r.success {
            rows.append(("error", r.error ?? "unknown error (see the log)"))
            if let snap = r.lastGoodSnapshot {
                rows.append(("still safe", "snapshot \(snap)" + (r.lastGoodTime.map { " from " + ReportFormat.minute($0, zone) } ?? "") + " (the last good backup of this source)"))
            } else {
                rows.append(("still safe", "no earlier good snapshot of this source is known"))
            }
            if let next = r.nextStep { rows.append(("next step", next)) }
        }
        if let id = r.snapshotID { rows.append(("snapshot", id)) }
        if r.success || r.files > 0 || r.logicalBytes > 0 {
            rows.append(("files", ReportFormat.count(r.files)))
            rows.append(("logical size", ReportFormat.bytes(r.logicalBytes)))
            rows.append(("added", ReportFormat.bytes(r.bytesAdded) + " (stored \(ReportFormat.bytes(r.bytesStored)))"))
            rows.append(("dedup ratio", ReportFormat.dedup(r)))
        }
        rows.append(("started", ReportFormat.second(r.startedAt, zone)))
        rows.append(("duration", ReportFormat.duration(r.durationSeconds)))
        if let check = r.checkResult { rows.append(("check", check)) }
        if let verify = r.verifyResult { rows.append(("verify", verify)) }
        if let kept = r.snapshotsRetained { rows.append(("retained", "\(kept) snapshot\(kept == 1 ? "" : "s")")) }
        for o in r.offsite { rows.append(("offsite", "\(o.target): " + o.line(zone))) }
        for (i, warning) in r.warnings.prefix(20).enumerated() { rows.append((i == 0 ? "warnings" : "", warning)) }
        if r.warnings.count > 20 { rows.append(("", "… and \(r.warnings.count - 20) more")) }
        rows.append(("repository", r.repository))
        if r.host != host { rows.append(("host", r.host)) }
        return rows
    }

    /// "FAILED db (postgres): pg_dump exited with status 1" / "ok media (docker-volume): snapshot 1a2b3c4d, …".
    static func summaryLine(_ r: RunReport) -> String {
        if !r.success {
            let safe = r.lastGoodSnapshot.map { "; last good snapshot \($0)" } ?? ""
            return "FAILED \(r.source) (\(r.kind)): \(ReportFormat.firstLine(r.error ?? "unknown error"))\(safe)"
        }
        var parts: [String] = []
        if let id = r.snapshotID { parts.append("snapshot \(id)") }
        if r.bytesAdded == 0 {
            parts.append("no new data")
        } else {
            parts.append("\(ReportFormat.bytes(r.bytesAdded)) added")
            parts.append("dedup \(ReportFormat.dedup(r))")
        }
        parts.append(ReportFormat.duration(r.durationSeconds))
        if let check = r.checkResult { parts.append("check \(check)") }
        for o in r.offsite { parts.append("offsite \(o.target) \(o.success ? "ok" : "FAILED")") }
        if !r.warnings.isEmpty { parts.append("\(r.warnings.count) warning\(r.warnings.count == 1 ? "" : "s")") }
        return "ok \(r.source) (\(r.kind)): " + parts.joined(separator: ", ")
    }

    private static func textTable(_ rows: [(String, String)]) -> String {
        let width = 14  // "  label         value": values start in column 17
        var out = ""
        for (label, value) in rows {
            let pad = "  " + label.padding(toLength: width, withPad: " ", startingAt: 0)
            let lines = value.split(separator: "\n", omittingEmptySubsequences: false)
            out += pad + (lines.first.map(String.init) ?? "") + "\n"
            for line in lines.dropFirst() { out += String(repeating: " ", count: width + 2) + line + "\n" }
        }
        return out
    }

    private static func htmlTable(_ rows: [(String, String)]) -> String {
        var out = "<table style=\"border-collapse:collapse\">\n"
        for (label, value) in rows {
            out += "<tr><th style=\"text-align:left;vertical-align:top;padding:2px 12px 2px 0\">\(ReportFormat.html(label))</th>"
                + "<td style=\"padding:2px 0\">\(ReportFormat.html(value).replacingOccurrences(of: "\n", with: "<br>"))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    private static func htmlHead(_ subject: String) -> String {
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>\(ReportFormat.html(subject))</title></head>\n"
            + "<body style=\"font-family:sans-serif;font-size:14px\">\n"
    }

    /// A subject is one line: control characters (a newline in a source name) become spaces.
    private static func oneLine(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }
}
