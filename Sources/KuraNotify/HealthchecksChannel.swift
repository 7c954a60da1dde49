import Foundation
import KuraCore

/// A dead-man check in the style of healthchecks.io (also Uptime Kuma push monitors, Cronitor, and
/// self-hosted Healthchecks): kura pings `URL/start` when a source's backup starts, `URL` when it
/// succeeded and `URL/fail` when it failed, each an HTTP POST with the report's text as the body
/// (cut to the service's 100 kB). The service alerts when a ping is late — the one failure an
/// e-mail cannot report: a backup that did not run at all (cron stopped, the host was off).
///
/// Every source's run pings by default; `sources` narrows a channel to some of them (one check per
/// source is the usual set-up). Successes are pinged always: that is what keeps the check up.
public struct HealthchecksChannel: NotificationChannel {
    public let name: String
    /// Always: a check that hears only failures goes down after every quiet success.
    public var when: NotifyWhen { .always }
    private let url: String
    /// The sources this check watches; empty: all.
    public let sources: [String]
    public let timeoutSeconds: Int
    /// healthchecks.io keeps the first 100 kB of a ping's body.
    public static let bodyLimit = 100_000

    public init(name: String, url: String, sources: [String] = [], timeoutSeconds: Int = 10) {
        self.name = name
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.sources = sources
        self.timeoutSeconds = timeoutSeconds
    }

    public func accepts(source: String) -> Bool { sources.isEmpty || sources.contains(source) }

    public func sourceStarted(_ source: String, host: String) async throws {
        try await ping("/start", "kura: the backup of \(source) started on \(host)\n")
    }

    /// Pings success or failure with the report's text.
    public func send(_ message: ReportMessage) async throws {
        try await ping(message.success ? "" : "/fail", message.text)
    }

    /// The ping URL for an event ("" success, "/start", "/fail").
    func pingURL(_ suffix: String) -> String {
        guard let q = url.firstIndex(of: "?") else { return url + suffix }
        return String(url[..<q]) + suffix + String(url[q...])
    }

    private func ping(_ suffix: String, _ text: String) async throws {
        var body = Array(text.utf8)
        if body.count > Self.bodyLimit {
            body = Array(body.prefix(Self.bodyLimit - 40))
            while let last = body.last, last & 0xC0 == 0x80 { body.removeLast() }  // no cut UTF-8 sequence
            if let last = body.last, last >= 0xC0 { body.removeLast() }
            body += Array("\n… (cut at 100 kB)\n".utf8)
        }
        // The webhook channel's POST: the same libcurl client, 2xx check, redaction of the URL's path.
        try await WebhookChannel(name: name, when: .always, url: pingURL(suffix), timeoutSeconds: timeoutSeconds)
            .post(body, headers: [("Content-Type", "text/plain; charset=utf-8")])
    }
}

extension HealthchecksChannel: CustomStringConvertible, CustomReflectable {
    /// Without the URL's path (a check's UUID or ping key is its secret).
    public var description: String { "HealthchecksChannel(\(name), \(Redaction.endpoint(url)), sources: \(sources))" }
    public var customMirror: Mirror { Mirror(self, children: ["name": name, "endpoint": Redaction.endpoint(url), "sources": sources]) }
}
