import Foundation

/// The JSON form of a report (the webhook `json` format's body and ``ReportMessage/json``):
///
/// ```json
/// {"kura": "report", "version": 1, "test": false, "host": "web1", "subject": "[kura] FAILED web1 db …",
///  "success": false, "sources": 3, "failed": ["db"], "generatedAt": "2026-11-29T16:01:02Z",
///  "reports": [{"source": "db", "kind": "postgres", "success": false, "error": "…", …}]}
/// ```
///
/// Dates are ISO 8601 in UTC; keys are sorted. `reports` holds every ``RunReport`` field.
struct ReportDocument: Encodable {
    var kura = "report"
    var version = 1
    var test: Bool
    var host: String
    var subject: String
    var success: Bool
    var sources: Int
    var failed: [String]
    var generatedAt: Date
    var reports: [RunReport]

    /// The UTF-8 JSON bytes (never fails: numbers that JSON cannot hold are written as 0).
    func encoded() -> [UInt8] {
        var copy = self
        copy.reports = reports.map { r in
            var r = r
            if !r.dedupRatio.isFinite { r.dedupRatio = 0 }
            if !r.durationSeconds.isFinite { r.durationSeconds = 0 }
            return r
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        if let data = try? encoder.encode(copy) { return Array(data) }
        return Array("{\"kura\":\"report\",\"version\":1,\"host\":\(ReportFormat.jsonString(host)),\"subject\":\(ReportFormat.jsonString(subject)),\"success\":\(success)}".utf8)
    }
}
