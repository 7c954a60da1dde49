import Foundation

/// Builds the RFC 5322 / MIME message for a report: Date, Message-ID, From, To, Subject (RFC 2047
/// encoded words when it is not ASCII), MIME-Version, and a `multipart/alternative` body with the
/// plain-text part first and the HTML part second, both UTF-8 in quoted-printable.
///
/// SMTP wants CRLF line ends; a sendmail-compatible command reads local (LF) line ends.
enum MailMessage {
    /// The whole message as bytes.
    static func build(_ message: ReportMessage, from: MailAddress, to: [MailAddress], date: Date = Date(),
                      timeZone: TimeZone = .current, lineEnding: String) -> [UInt8] {
        let boundary = "kura-" + randomHex(12)
        let domain = from.address.split(separator: "@").last.map(String.init).flatMap { $0.isEmpty || $0 == from.address ? nil : $0 } ?? "kura.invalid"
        var headers: [String] = [
            "Date: " + rfc5322Date(date, timeZone),
            "From: " + from.header,
            fold("To: " + to.map(\.header).joined(separator: ", ")),
            "Subject: " + subjectValue(message.subject),
            "Message-ID: <\(Int64(date.timeIntervalSince1970 * 1000)).\(randomHex(8))@\(domain)>",
            "MIME-Version: 1.0",
            "Auto-Submitted: auto-generated",
            "X-Mailer: kura",
            "X-Kura-Result: " + (message.isTest ? "test" : message.success ? "ok" : "failed"),
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
        ]
        if !message.success { headers.append("Importance: high") }
        var lines = headers
        lines.append("")
        lines.append("This is a multi-part message in MIME format.")
        lines.append("")
        for (type, body) in [("text/plain", message.text), ("text/html", message.html)] {
            lines.append("--" + boundary)
            lines.append("Content-Type: \(type); charset=utf-8")
            lines.append("Content-Transfer-Encoding: quoted-printable")
            lines.append("")
            lines.append(quotedPrintable(body, lineEnding: "\r\n"))
        }
        lines.append("--" + boundary + "--")
        lines.append("")
        let crlf = lines.joined(separator: "\r\n")
        return Array((lineEnding == "\r\n" ? crlf : crlf.replacingOccurrences(of: "\r\n", with: lineEnding)).utf8)
    }

    /// The Subject header's value: as is when ASCII (folded at spaces when long), else encoded words.
    static func subjectValue(_ subject: String) -> String {
        if subject.unicodeScalars.allSatisfy({ $0.isASCII }) {
            return String(fold("Subject: " + subject).dropFirst("Subject: ".count))
        }
        return encodedWords(subject)
    }

    /// RFC 2047 `=?UTF-8?B?…?=` words, each at most 64 characters, joined by `separator` (a fold onto a
    /// continuation line, or a space). Words end after a space where possible and never split a
    /// character: decoders drop the whitespace between encoded words, but some (Python's, in display
    /// names) keep it, and a break after a space reads right with both.
    static func encodedWords(_ text: String, separator: String = "\r\n ") -> String {
        let limit = 39  // 39 bytes → 52 base64 characters + 12 = 64
        var words: [String] = []
        var chunk: [UInt8] = []
        var lastSpace: Int?  // index in `chunk` just after its last space
        func word(_ bytes: [UInt8]) -> String { "=?UTF-8?B?" + Data(bytes).base64EncodedString() + "?=" }
        for scalar in text.unicodeScalars {
            let c = Array(String(scalar).utf8)
            if chunk.count + c.count > limit {
                if let cut = lastSpace, cut < chunk.count {
                    words.append(word(Array(chunk[..<cut])))
                    chunk = Array(chunk[cut...])
                } else {
                    words.append(word(chunk))
                    chunk = []
                }
                lastSpace = nil
            }
            chunk += c
            if scalar == " " { lastSpace = chunk.count }
        }
        if !chunk.isEmpty || words.isEmpty { words.append(word(chunk)) }
        return words.joined(separator: separator)
    }

    /// Folds a header line longer than 78 characters at spaces (RFC 5322 2.2.3).
    static func fold(_ line: String) -> String {
        guard line.count > 78 else { return line }
        var out = "", current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if !current.isEmpty, current.count + 1 + word.count > 78 {
                out += current + "\r\n"
                current = " " + word
            } else {
                current += (current.isEmpty ? "" : " ") + word
            }
        }
        return out + current
    }

    /// Quoted-printable (RFC 2045 6.7) of UTF-8 text, with `lineEnding` as the hard line break. Lines
    /// starting with "." or "From " are encoded so that neither SMTP, sendmail nor an mbox reader
    /// takes them for something else.
    static func quotedPrintable(_ text: String, lineEnding: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var out: [String] = []
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            var encoded = "", width = 0
            for (i, b) in bytes.enumerated() {
                let last = i == bytes.count - 1
                let atStart = width == 0
                var token: String
                if (b == 0x20 || b == 0x09) && !last {
                    token = String(UnicodeScalar(b))
                } else if b >= 33, b <= 126, b != 61, !(atStart && b == 0x2E),
                          !(atStart && b == 0x46 && bytes[i...].starts(with: Array("From ".utf8))) {
                    token = String(UnicodeScalar(b))
                } else {
                    token = String(format: "=%02X", b)
                }
                // Soft line break: a line holds at most 76 characters, the "=" included.
                if width + token.count > 75 {
                    encoded += "=" + lineEnding
                    width = 0
                    if b == 0x2E || b == 0x46 && bytes[i...].starts(with: Array("From ".utf8)) { token = String(format: "=%02X", b) }
                }
                encoded += token
                width += token.count
            }
            out.append(encoded)
        }
        return out.joined(separator: lineEnding)
    }

    /// "Sat, 29 Nov 2026 17:00:00 +0100".
    static func rfc5322Date(_ date: Date, _ zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let offset = zone.secondsFromGMT(for: date)
        return String(format: "%@, %02d %@ %04d %02d:%02d:%02d %@%02d%02d", days[(c.weekday ?? 1) - 1], c.day ?? 1, months[(c.month ?? 1) - 1],
                      c.year ?? 1970, c.hour ?? 0, c.minute ?? 0, c.second ?? 0, offset < 0 ? "-" : "+", abs(offset) / 3600, (abs(offset) % 3600) / 60)
    }

    static func randomHex(_ bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}
