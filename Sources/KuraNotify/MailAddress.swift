import Foundation
import KuraCore

/// One mailbox as written in the configuration: `ops@example.com` or `Ops Team <ops@example.com>`.
struct MailAddress: Sendable, Equatable {
    /// The display name, if any (without quotes).
    var name: String?
    /// The bare address for the SMTP envelope (`MAIL FROM`/`RCPT TO`).
    var address: String

    /// Parses `text`; rejects control characters (header injection) and empty or unbalanced forms.
    init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw KuraError(.invalidArgument, "e-mail address \(trimmed.debugDescription) contains a control character")
        }
        if let open = trimmed.lastIndex(of: "<") {
            guard trimmed.hasSuffix(">") else { throw KuraError(.invalidArgument, "e-mail address \"\(trimmed)\" has an unclosed <") }
            var name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
            self.name = name.isEmpty ? nil : name
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]).trimmingCharacters(in: .whitespaces)
        } else {
            name = nil
            address = trimmed
        }
        guard !address.isEmpty, !address.contains(where: { $0 == " " || $0 == "<" || $0 == ">" || $0 == "," }) else {
            throw KuraError(.invalidArgument, "\"\(trimmed)\" is not an e-mail address", hint: "write it as name@example.com or \"Name <name@example.com>\"")
        }
    }

    /// The form for a From/To header: the name encoded (RFC 2047) when it is not ASCII, quoted when it
    /// holds special characters.
    var header: String {
        guard let name else { return address }
        let phrase: String
        if !name.unicodeScalars.allSatisfy(\.isASCII) {
            phrase = MailMessage.encodedWords(name, separator: " ")  // the To line is folded as a whole
        } else if name.contains(where: { "()<>[]:;@\\,.\"".contains($0) }) {
            phrase = "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        } else {
            phrase = name
        }
        return "\(phrase) <\(address)>"
    }
}
