/// One rendered report, ready for any channel: a subject line, a plain-text and an HTML body, and the
/// same facts as JSON (see ``ReportRenderer``).
public struct ReportMessage: Sendable {
    /// The subject line, e.g. "[kura] FAILED web1 db 2026-11-29 17:00".
    public var subject: String
    /// The full plain-text report.
    public var text: String
    /// The same report as a small, self-contained HTML document (every value escaped).
    public var html: String
    /// The report as UTF-8 JSON (the webhook `json` format's body).
    public var json: [UInt8]
    /// A few lines, one per source, for chat and push channels (Slack, ntfy).
    public var summary: String
    /// False when at least one source failed (used for mail headers and push priorities).
    public var success: Bool
    /// True for the test message that `kura config check` sends.
    public var isTest: Bool

    /// A message; an empty `summary` becomes the subject.
    public init(subject: String, text: String, html: String, json: [UInt8], summary: String = "", success: Bool = true, isTest: Bool = false) {
        self.subject = subject
        self.text = text
        self.html = html
        self.json = json
        self.summary = summary.isEmpty ? subject : summary
        self.success = success
        self.isTest = isTest
    }
}
