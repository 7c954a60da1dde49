/// A place reports are sent to: an SMTP server, a sendmail-compatible command, or a webhook.
public protocol NotificationChannel: Sendable {
    /// The channel's name in the configuration file (used in errors and logs).
    var name: String { get }
    /// Whether the channel wants every report or only failures.
    var when: NotifyWhen { get }
    /// Delivers one report. Throws a `KuraError` that says what went wrong, never with a password in it.
    func send(_ message: ReportMessage) async throws
}
