/// A place reports are sent to: an SMTP server, a sendmail-compatible command, a webhook, or a
/// healthchecks.io-style dead-man check.
public protocol NotificationChannel: Sendable {
    /// The channel's name in the configuration file (used in errors and logs).
    var name: String { get }
    /// Whether the channel wants every report or only failures.
    var when: NotifyWhen { get }
    /// Delivers one report. Throws a `KuraError` that says what went wrong, never with a password in it.
    func send(_ message: ReportMessage) async throws
    /// Told when a source's backup starts (see the default in the extension below).
    func sourceStarted(_ source: String, host: String) async throws
    /// Whether this channel wants the reports of `source`.
    func accepts(source: String) -> Bool
}

extension NotificationChannel {
    /// Told when a source's backup starts, before any work (dead-man services such as healthchecks.io
    /// time the run from it). Default: nothing.
    public func sourceStarted(_ source: String, host: String) async throws {}
    /// Whether this channel wants the reports of `source`. Default: every source.
    public func accepts(source: String) -> Bool { true }
}
