import Foundation
import KuraCore

/// The restore wizard's whole contact with the operator: plain lines out, plain lines in.
///
/// Keyboard only, no cursor movement, no colour: it works in an 80×24 terminal over SSH and can be
/// driven by a test through a pseudo-terminal or an in-memory script. The command line supplies one
/// on standard input/output; tests supply their own.
public protocol WizardTerminal: AnyObject, Sendable {
    /// Writes text (it ends with a newline when it is a whole line).
    func write(_ text: String)
    /// Shows `prompt` and reads one line without its newline; nil at end of input.
    func readLine(prompt: String) -> String?
    /// Replaces the current progress line (a terminal overwrites it; a log may append it).
    func progress(_ text: String)
}

extension WizardTerminal {
    func line(_ text: String = "") { write(text + "\n") }

    /// Reads an answer; end of input cancels the wizard (nothing has been changed yet when it asks).
    func ask(_ prompt: String, default value: String? = nil) throws -> String {
        let shown = value.map { "\(prompt) [\($0)]: " } ?? "\(prompt): "
        guard let answer = readLine(prompt: shown) else {
            throw KuraError(.interrupted, "the restore wizard was cancelled (end of input)", hint: "nothing was changed")
        }
        let trimmed = answer.trimmingCharacters(in: .whitespaces)
        if trimmed == "q" || trimmed == "quit" {
            throw KuraError(.interrupted, "the restore wizard was cancelled", hint: "nothing was changed")
        }
        return trimmed.isEmpty ? (value ?? "") : trimmed
    }

    /// A numbered menu; returns the index chosen. Lists longer than a screen page with `m`.
    func choose(_ title: String, _ items: [String], default index: Int = 0, page: Int = 14) throws -> Int {
        precondition(!items.isEmpty)
        line(title)
        var shown = 0
        func more() {
            let end = min(items.count, shown + page)
            for i in shown..<end { line(String(format: "%3d) ", i + 1) + items[i]) }
            shown = end
            if shown < items.count { line("     … \(items.count - shown) more: type m") }
        }
        more()
        while true {
            let answer = try ask("choose 1-\(items.count)", default: String(index + 1))
            if answer == "m" { more(); continue }
            if let n = Int(answer), n >= 1, n <= items.count { return n - 1 }
            line("  type a number from 1 to \(items.count) (q cancels)")
        }
    }

    /// A filterable multiple choice: text narrows the list, numbers pick from what is shown, an empty
    /// line finishes. Returns the picked items (at least one).
    func pick(_ what: String, from items: [String], page: Int = 12) throws -> [String] {
        var filter = ""
        var picked: [String] = []
        while true {
            let matches = filter.isEmpty ? items : items.filter { $0.localizedCaseInsensitiveContains(filter) }
            line(filter.isEmpty ? "\(items.count) \(what):" : "\(matches.count) of \(items.count) \(what) contain '\(filter)':")
            for (i, item) in matches.prefix(page).enumerated() {
                line(String(format: "%3d) ", i + 1) + (picked.contains(item) ? "[x] " : "[ ] ") + String(item.prefix(66)))
            }
            if matches.count > page { line("     … \(matches.count - page) more: type part of a name to narrow the list") }
            line("Picked: \(picked.isEmpty ? "none" : picked.joined(separator: ", ").prefix(66) + (picked.joined(separator: ", ").count > 66 ? "…" : ""))")
            let answer = try ask("numbers to pick/unpick, text to filter, empty when done")
            if answer.isEmpty {
                if picked.isEmpty { line("  pick at least one (q cancels)"); continue }
                return picked
            }
            let numbers = answer.split(whereSeparator: { $0 == " " || $0 == "," }).map { Int($0) }
            if !numbers.isEmpty, numbers.allSatisfy({ $0 != nil }) {
                for n in numbers.compactMap({ $0 }) where n >= 1 && n <= min(page, matches.count) {
                    let item = matches[n - 1]
                    if let at = picked.firstIndex(of: item) { picked.remove(at: at) } else { picked.append(item) }
                }
            } else {
                filter = answer == "*" ? "" : answer
            }
        }
    }
}

/// A terminal fed from a fixed list of answers (for unit tests of the question flow).
public final class ScriptedTerminal: WizardTerminal, @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [String]
    private var text = ""

    public init(answers: [String]) { self.answers = answers }

    /// Everything written so far, prompts included.
    public var transcript: String { lock.withLock { text } }

    public func write(_ text: String) { lock.withLock { self.text += text } }
    public func progress(_ text: String) {}
    public func readLine(prompt: String) -> String? {
        lock.withLock {
            text += prompt
            guard !answers.isEmpty else { return nil }
            let a = answers.removeFirst()
            text += a + "\n"
            return a
        }
    }
}
