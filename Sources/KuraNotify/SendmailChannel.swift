import Foundation
import KuraCore
import KuraProcess

/// Sends reports through a sendmail-compatible command (`/usr/sbin/sendmail -t`, `msmtp -t`, …): the
/// same RFC 5322 message as ``SMTPChannel`` goes to the command's standard input.
///
/// With `-t` (or `--read-recipients`) the command takes the recipients from the To header; otherwise
/// kura appends their addresses to the command's arguments. A non-zero exit is an error quoting the end
/// of the command's output. The command does not inherit `KURA_PASSWORD*`.
public struct SendmailChannel: NotificationChannel {
    /// The channel's name in the configuration.
    public let name: String
    /// Every report, or only failures.
    public let when: NotifyWhen
    /// The command and its arguments, e.g. `["/usr/sbin/sendmail", "-t"]`.
    public let command: [String]
    /// The sender for the From header.
    public let from: String
    /// The recipients for the To header (and the arguments, without `-t`).
    public let to: [String]
    /// The command is killed when it has not finished after this many seconds.
    public let timeoutSeconds: Int

    /// A channel that runs `command` for each report.
    public init(name: String, when: NotifyWhen, command: [String], from: String, to: [String], timeoutSeconds: Int = 60) {
        self.name = name
        self.when = when
        self.command = command
        self.from = from
        self.to = to
        self.timeoutSeconds = timeoutSeconds
    }

    /// Runs the command with the message on its standard input.
    public func send(_ message: ReportMessage) async throws {
        let sender = try MailAddress(from)
        let recipients = try to.map(MailAddress.init)
        guard !recipients.isEmpty else {
            throw KuraError(.invalidArgument, "notification channel \"\(name)\" has no recipients", hint: "list at least one address in `to`")
        }
        guard let program = command.first, !program.isEmpty else {
            throw KuraError(.invalidArgument, "notification channel \"\(name)\" has an empty command",
                            hint: "e.g. command = [\"/usr/sbin/sendmail\", \"-t\"] or [\"msmtp\", \"-t\"]")
        }
        let readsHeaders = command.dropFirst().contains { $0 == "-t" || $0 == "--read-recipients" }
        let argv = readsHeaders ? command : command + ["--"] + recipients.map(\.address)
        let mail = MailMessage.build(message, from: sender, to: recipients, lineEnding: "\n")
        let hint = "test the command by hand: printf 'To: \(recipients[0].address)\\nSubject: test\\n\\ntest\\n' | \(program) -t"
        // Standard output and standard error as one stream, the last 4 KiB kept for the message.
        let child = ChildCommand(argv, timeout: .seconds(max(1, timeoutSeconds)), stderrTailBytes: 4096, mergeStderrIntoStdout: true)
        let outcome: ChildResult
        do {
            outcome = try await ProcessRunner.run(child, input: .bytes(mail))
        } catch var e as KuraError {
            if e.code == .timedOut { e.message = "\(program) did not finish within \(timeoutSeconds) s and was stopped" }
            e.hint = e.hint ?? hint
            throw e
        }
        guard !outcome.status.succeeded else { return }
        let text = OutputEscaping.escape(outcome.stderrTail).trimmingCharacters(in: .whitespacesAndNewlines)
        let tail = text.split(separator: "\n").suffix(8).joined(separator: "\n    ")
        throw KuraError(.commandFailed, "\(program) \(outcome.status)" + (tail.isEmpty ? "" : "; its output ends with:\n    " + tail),
                        hint: hint)
    }
}
