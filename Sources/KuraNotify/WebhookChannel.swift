import CCurl
import KuraCurl
import Foundation
import KuraCore

/// Sends reports to a webhook with an HTTP POST (libcurl):
///
/// - `json`: the report as JSON (``ReportMessage/json``), `Content-Type: application/json`;
/// - `slack`: `{"text": "…"}` with the subject and one line per source (Slack, Mattermost, Rocket.Chat,
///   and Teams incoming webhooks, which take the same shape);
/// - `ntfy`: the summary as a plain-text body with `Title`, `Priority` (high on failure) and `Tags` headers.
///
/// Any answer but 2xx is an error quoting the start of the answer's body. Redirects are not followed.
/// Errors name the URL as scheme, host and port only (a webhook URL's path is often its key), and the
/// configured headers (often `Authorization`) are never logged or quoted.
public struct WebhookChannel: NotificationChannel {
    /// The body's shape.
    public enum Format: String, Sendable, Codable, CaseIterable {
        /// The JSON report.
        case json
        /// `{"text": …}` for Slack-style incoming webhooks.
        case slack
        /// A plain-text push for ntfy.
        case ntfy
    }

    /// The channel's name in the configuration.
    public let name: String
    /// Every report, or only failures.
    public let when: NotifyWhen
    private let url: String
    /// The body's shape.
    public let format: Format
    private let headers: [String: String]
    /// The request's time limit in seconds.
    public let timeoutSeconds: Int

    /// A channel that POSTs to `url` (http or https) with the extra `headers`.
    public init(name: String, when: NotifyWhen, url: String, format: Format = .json, headers: [String: String] = [:], timeoutSeconds: Int = 15) {
        self.name = name
        self.when = when
        self.url = url
        self.format = format
        self.headers = headers
        self.timeoutSeconds = timeoutSeconds
    }

    /// Where the webhook points, without credentials, path or query (safe to show).
    public var endpoint: String { Redaction.endpoint(url) }

    /// POSTs `message` in the channel's format.
    public func send(_ message: ReportMessage) async throws {
        let (body, ours) = Self.request(message, format: format)
        try await post(body, headers: ours)
    }

    /// POSTs `body` with kura's `ours` headers (configured headers of the same name win); any answer
    /// but 2xx is an error. Shared by every HTTP channel (webhooks, healthchecks pings).
    func post(_ body: [UInt8], headers ours: [(String, String)]) async throws {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw KuraError(.invalidArgument, "notification channel \"\(name)\": the webhook URL must start with http:// or https:// (it is \(endpoint))")
        }
        for (key, value) in headers where (key + value).unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) || key.contains(":") || key.isEmpty {
            throw KuraError(.invalidArgument, "notification channel \"\(name)\": header \"\(key.debugDescription)\" has a control character or ':' in it")
        }
        let own = Set(headers.keys.map { $0.lowercased() })
        var fields = ours.filter { !own.contains($0.0.lowercased()) }.map { (name: $0.0, value: $0.1) }
        fields += headers.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        // HTTPClient adds "Expect:" (no "100-continue" round trip), refuses redirects and other protocols.
        let request = HTTPRequest("POST", url, headers: fields, body: body, timeoutSeconds: max(1, timeoutSeconds),
                                  connectTimeoutSeconds: 10)

        let result: (code: Int, body: [UInt8])
        do {
            result = try await BlockingThreads.run {
                let response = try HTTPClient(responseLimit: 4096).send(request)
                return (response.status, response.body)
            }
        } catch let failure as CurlEasy.Failure {
            throw KuraError(.io, scrub("webhook \(endpoint) failed: \(failure.text)"),
                            hint: failure.code == CURLE_OPERATION_TIMEDOUT ? "no answer within \(timeoutSeconds) s" : "check the URL of channel \"\(name)\"")
        }
        guard (200..<300).contains(result.code) else {
            var answer = String(decoding: result.body.prefix(300), as: UTF8.self)
                .replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
                .trimmingCharacters(in: .whitespaces)
            if result.body.count > 300 { answer += "…" }
            let hint: String? = switch result.code {
            case 401, 403: "the webhook refused the request: check the token or credentials of channel \"\(name)\""
            case 404: "check the URL of channel \"\(name)\" (the hook may have been removed)"
            case 300..<400: "the webhook answered with a redirect, which kura does not follow: use the final URL"
            default: nil
            }
            throw KuraError(.io, scrub("webhook \(endpoint) answered HTTP \(result.code)" + (answer.isEmpty ? "" : ": \(answer)")), hint: hint)
        }
    }

    /// The body and kura's own headers for `format` (configured headers of the same name win).
    static func request(_ message: ReportMessage, format: Format) -> (body: [UInt8], headers: [(String, String)]) {
        switch format {
        case .json:
            return (message.json, [("Content-Type", "application/json")])
        case .slack:
            let lines = message.summary.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let head = lines.first.map { "*\(slackEscape($0))*" } ?? ""
            var text = ([head] + lines.dropFirst().map(slackEscape)).joined(separator: "\n")
            if text.count > 3500 { text = String(text.prefix(3500)) + "…" }
            return (Array("{\"text\":\(ReportFormat.jsonString(text))}".utf8), [("Content-Type", "application/json")])
        case .ntfy:
            let lines = message.summary.split(separator: "\n", omittingEmptySubsequences: false)
            var body = lines.dropFirst().joined(separator: "\n")
            if body.isEmpty { body = message.subject }
            if body.utf8.count > 3800 { body = String(body.prefix(3800)) + "…" }
            let title = message.subject.unicodeScalars.allSatisfy(\.isASCII) ? message.subject
                : MailMessage.encodedWords(message.subject, separator: " ")
            return (Array(body.utf8), [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Title", title),
                ("Priority", message.success ? "default" : "high"),
                ("Tags", message.isTest ? "test_tube" : message.success ? "white_check_mark" : "rotating_light"),
            ])
        }
    }

    /// Slack's three control characters.
    private static func slackEscape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The URL and header values never reach an error message.
    private func scrub(_ text: String) -> String {
        Redaction.scrub(text, secrets: [url] + Array(headers.values) + [URLComponents(string: url)?.password, URLComponents(string: url)?.percentEncodedPath])
    }
}

extension WebhookChannel: CustomStringConvertible, CustomReflectable {
    /// The channel without its URL's path, query or credentials, and without header values (safe to log).
    public var description: String {
        "WebhookChannel(\(name), \(endpoint), \(format.rawValue), headers: \(headers.keys.sorted().joined(separator: ", ")))"
    }

    /// Reflection (`dump`, debuggers) shows neither the URL's secrets nor header values.
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "when": when, "endpoint": endpoint, "format": format,
                                "headers": headers.keys.sorted(), "timeoutSeconds": timeoutSeconds])
    }
}
