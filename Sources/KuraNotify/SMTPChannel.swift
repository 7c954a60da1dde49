import CCurl
import KuraCurl
import Foundation
import KuraCore

/// Sends reports by e-mail to an SMTP server (libcurl): STARTTLS on a submission port (587), implicit
/// TLS (465), or plain SMTP for a relay on the same host. Logs in with AUTH PLAIN or LOGIN, whichever
/// the server offers, when a user name is set; delivers to several recipients in one transaction.
///
/// The password is only handed to libcurl: it never appears in a message, a log line or an error.
public struct SMTPChannel: NotificationChannel {
    /// How the connection is protected.
    public enum Security: String, Sendable, Codable, CaseIterable {
        /// Plain connection upgraded with STARTTLS; fails when the server does not offer it (port 587).
        case starttls
        /// TLS from the first byte, "SMTPS" (port 465).
        case tls
        /// No encryption (only for a relay on the same host or a trusted network).
        case none
    }

    /// The channel's name in the configuration.
    public let name: String
    /// Every report, or only failures.
    public let when: NotifyWhen
    /// The mail server's host name or address.
    public let host: String
    /// The mail server's port (587 for STARTTLS, 465 for implicit TLS, 25 for a local relay).
    public let port: Int
    /// How the connection is protected.
    public let security: Security
    /// The user to log in as; nil sends without AUTH.
    public let username: String?
    private let password: String?
    /// The sender, `kura@host.example` or `Kura <kura@host.example>`.
    public let from: String
    /// The recipients, in the same forms as `from`.
    public let to: [String]
    /// The whole delivery's time limit in seconds.
    public let timeoutSeconds: Int
    /// A PEM file of certificate authorities to trust instead of the system's (a private CA).
    public let caFile: String?
    /// Accepts any server certificate. Only for testing: it allows a man in the middle to read the password.
    public let insecureSkipVerify: Bool

    /// A channel; `password` (from the configuration's password file or environment) is kept private.
    public init(name: String, when: NotifyWhen, host: String, port: Int, security: Security, username: String?, password: String?,
                from: String, to: [String], timeoutSeconds: Int = 30, caFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.name = name
        self.when = when
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from = from
        self.to = to
        self.timeoutSeconds = timeoutSeconds
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// `smtp://host:port` or `smtps://host:port` (no credentials: those go to libcurl separately).
    public var url: String {
        let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(security == .tls ? "smtps" : "smtp")://\(h):\(port)"
    }

    /// The name kura introduces itself with (EHLO): this host's name when it is a plain DNS name,
    /// else libcurl's default, "localhost". libcurl takes it from the URL's path.
    private static let ehloName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let plain = !name.isEmpty && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "." || $0 == "-") }
        return plain ? name : ""
    }()

    /// Delivers `message` to every recipient in one SMTP transaction.
    public func send(_ message: ReportMessage) async throws {
        let sender = try MailAddress(from)
        let recipients = try to.map(MailAddress.init)
        guard !recipients.isEmpty else {
            throw KuraError(.invalidArgument, "notification channel \"\(name)\" has no recipients", hint: "list at least one address in `to`")
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw KuraError(.invalidArgument, "notification channel \"\(name)\": \"\(host):\(port)\" is not a valid SMTP server address")
        }
        let mail = MailMessage.build(message, from: sender, to: recipients, lineEnding: "\r\n")
        let url = self.url + "/" + Self.ehloName, security = self.security, username = self.username, password = self.password
        let timeout = max(1, timeoutSeconds), caFile = self.caFile, insecure = insecureSkipVerify
        do {
            try await BlockingThreads.run {
                let curl = try CurlEasy()
                try curl.allowProtocols("smtp,smtps")
                try curl.set(CURLOPT_URL, url)
                try curl.set(CURLOPT_USE_SSL, Int(security == .none ? CURLUSESSL_NONE.rawValue : CURLUSESSL_ALL.rawValue))
                if let username, !username.isEmpty {
                    try curl.set(CURLOPT_USERNAME, username)
                    try curl.set(CURLOPT_PASSWORD, password ?? "")
                }
                try curl.set(CURLOPT_MAIL_FROM, "<\(sender.address)>")
                try curl.set(CURLOPT_MAIL_RCPT, list: recipients.map { "<\($0.address)>" })
                if let caFile { try curl.set(CURLOPT_CAINFO, caFile) }
                if insecure {
                    try curl.set(CURLOPT_SSL_VERIFYPEER, 0)
                    try curl.set(CURLOPT_SSL_VERIFYHOST, 0)
                }
                try curl.set(CURLOPT_TIMEOUT, timeout)
                try curl.set(CURLOPT_CONNECTTIMEOUT, min(timeout, 15))
                try curl.setUpload(mail)
                do { _ = try curl.perform() } catch var failure as CurlEasy.Failure {
                    let reply = curl.lastResponseCode
                    if reply >= 400 { failure.text += " (server reply \(reply))" }
                    throw failure
                }
            }
        } catch let failure as CurlEasy.Failure {
            throw describe(failure)
        }
    }

    /// A `KuraError` for a failed transfer that says what to check, with any secret scrubbed out.
    private func describe(_ failure: CurlEasy.Failure) -> KuraError {
        let server = "\(host):\(port) (\(security.rawValue))"
        var message = "e-mail via SMTP server \(server) failed: \(failure.text)"
        var hint: String?
        switch failure.code {
        case CURLE_LOGIN_DENIED, CURLE_AUTH_ERROR:
            message = "the SMTP server \(server) refused the login for user \"\(username ?? "")\": \(failure.text)"
            hint = "check the user name and the password (password-file or environment variable) of channel \"\(name)\""
        case CURLE_COULDNT_RESOLVE_HOST:
            hint = "check the host name \"\(host)\" of channel \"\(name)\""
        case CURLE_COULDNT_CONNECT:
            hint = "is the mail server running and reachable on port \(port)? (587 is usually STARTTLS, 465 implicit TLS)"
        case CURLE_OPERATION_TIMEDOUT:
            hint = "no answer within \(timeoutSeconds) s; check the port and the security setting (starttls for 587, tls for 465)"
        case CURLE_USE_SSL_FAILED:
            hint = "the server does not offer STARTTLS; use security = \"tls\" for port 465, or \"none\" only for a local relay"
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            hint = "the server's certificate is not trusted for \"\(host)\"; for a private CA set ca-file to its PEM file"
        case _ where failure.text.contains("RCPT"):
            hint = "the server refused a recipient; check the `to` addresses of channel \"\(name)\""
        case _ where failure.text.contains("MAIL"):
            hint = "the server refused the sender \"\(from)\"; many servers only accept their own user's address"
        case CURLE_SSL_CONNECT_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_WEIRD_SERVER_REPLY:
            hint = security == .tls ? "port \(port) may expect STARTTLS (security = \"starttls\") rather than implicit TLS"
                : "check the port and the security setting of channel \"\(name)\""
        default:
            break
        }
        let secrets = [password, password.map { Data($0.utf8).base64EncodedString() }]
        return KuraError(.io, Redaction.scrub(message, secrets: secrets), hint: hint.map { Redaction.scrub($0, secrets: secrets) })
    }
}

extension SMTPChannel: CustomStringConvertible, CustomReflectable {
    /// The channel without its password (safe to log).
    public var description: String {
        "SMTPChannel(\(name), \(url), \(security.rawValue), user: \(username ?? "-"), to: \(to.joined(separator: ", ")))"
    }

    /// Reflection (`dump`, debuggers) shows everything but the password.
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "when": when, "host": host, "port": port, "security": security,
                                "username": username as Any, "password": password == nil ? "nil" : "***", "from": from, "to": to,
                                "timeoutSeconds": timeoutSeconds, "caFile": caFile as Any, "insecureSkipVerify": insecureSkipVerify])
    }
}
