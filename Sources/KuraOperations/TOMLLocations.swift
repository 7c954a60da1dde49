import Foundation

/// A position in the configuration file (1-based line and column).
public struct SourcePosition: Sendable, Equatable, Codable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// Where each key and value of a TOML document is, by key path (`repository`, `source[1].keep.daily`,
/// `notify[0].to[1]`). TOMLKit reports positions only for syntax errors, so this light scanner reads the
/// (already valid) document once more to let semantic errors point at the key they are about.
public struct TOMLLocations: Sendable {
    /// Position of the key (for a table header: of the header).
    public private(set) var keys: [String: SourcePosition] = [:]
    /// Position of the value.
    public private(set) var values: [String: SourcePosition] = [:]

    public init() {}

    /// The position of `path`'s value, else its key, else of its closest enclosing table that is known.
    public func position(of path: String, preferValue: Bool = true) -> SourcePosition? {
        var p = path
        while true {
            if preferValue, let v = values[p] { return v }
            if let k = keys[p] { return k }
            if let v = values[p] { return v }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            p = String(p[..<cut])
        }
    }

    /// Scans `text`. Invalid input is scanned as far as it goes (TOMLKit reports the syntax error).
    public init(scanning text: String) {
        var scanner = Scanner(Array(text.unicodeScalars))
        scanner.run()
        keys = scanner.keys
        values = scanner.values
    }

    private struct Scanner {
        let s: [Unicode.Scalar]
        var i = 0
        var line = 1
        var lineStart = 0
        var keys: [String: SourcePosition] = [:]
        var values: [String: SourcePosition] = [:]
        /// Array-of-tables element counts, by resolved path of the array.
        var arrayCounts: [String: Int] = [:]
        var table = ""

        init(_ s: [Unicode.Scalar]) { self.s = s }

        var position: SourcePosition { SourcePosition(line: line, column: i - lineStart + 1) }
        var atEnd: Bool { i >= s.count }
        var current: Unicode.Scalar? { i < s.count ? s[i] : nil }

        mutating func advance() {
            if s[i] == "\n" { line += 1; lineStart = i + 1 }
            i += 1
        }

        mutating func skipSpaces() { while let c = current, c == " " || c == "\t" { advance() } }
        mutating func skipComment() { if current == "#" { while let c = current, c != "\n" { _ = c; advance() } } }
        /// Skips white space, newlines and comments.
        mutating func skipBlank() {
            while let c = current {
                if c == " " || c == "\t" || c == "\r" || c == "\n" { advance() } else if c == "#" { skipComment() } else { break }
            }
        }
        mutating func skipLine() { while let c = current, c != "\n" { _ = c; advance() } }

        func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : base + "." + key }

        /// The path of `keys` under the root, where a key naming an array of tables means its last element.
        func resolve(_ parts: [String]) -> String {
            var path = ""
            for p in parts {
                path = join(path, p)
                if let n = arrayCounts[path], n > 0 { path += "[\(n - 1)]" }
            }
            return path
        }

        mutating func run() {
            while true {
                skipBlank()
                guard let c = current else { return }
                if c == "[" {
                    let start = position
                    advance()
                    let isArray = current == "["
                    if isArray { advance() }
                    let parts = readKey()
                    skipLine()
                    guard !parts.isEmpty else { continue }
                    if isArray {
                        let arrayPath = resolve(Array(parts.dropLast())).isEmpty ? parts.last! : join(resolve(Array(parts.dropLast())), parts.last!)
                        let n = arrayCounts[arrayPath, default: 0]
                        arrayCounts[arrayPath] = n + 1
                        table = arrayPath + "[\(n)]"
                        if keys[arrayPath] == nil { keys[arrayPath] = start }
                    } else {
                        table = resolve(parts)
                    }
                    keys[table] = start
                } else {
                    keyValue(base: table)
                    skipSpaces(); skipComment()
                    if let c = current, c != "\n" { skipLine() }
                }
            }
        }

        /// key = value, recording both positions.
        mutating func keyValue(base: String) {
            let start = position
            let parts = readKey()
            guard !parts.isEmpty else { if !atEnd { advance() }; return }
            let path = parts.reduce(base) { join($0, $1) }
            keys[path] = start
            skipSpaces()
            guard current == "=" else { return }
            advance()
            skipSpaces()
            value(path)
        }

        /// A dotted key of bare and quoted parts; stops before `=` or `]`.
        mutating func readKey() -> [String] {
            var parts: [String] = []
            while true {
                skipSpaces()
                guard let c = current else { return parts }
                if c == "\"" || c == "'" {
                    parts.append(readQuoted(c))
                } else {
                    var word = ""
                    while let c = current, c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" {
                        word.unicodeScalars.append(c); advance()
                    }
                    if word.isEmpty { return parts }
                    parts.append(word)
                }
                skipSpaces()
                if current == "." { advance() } else { return parts }
            }
        }

        mutating func readQuoted(_ quote: Unicode.Scalar) -> String {
            advance()
            var out = ""
            while let c = current, c != quote, c != "\n" {
                if c == "\\" && quote == "\"" { advance(); if let e = current { out.unicodeScalars.append(e); advance() }; continue }
                out.unicodeScalars.append(c); advance()
            }
            if current == quote { advance() }
            return out
        }

        mutating func value(_ path: String) {
            values[path] = position
            guard let c = current else { return }
            switch c {
            case "{":
                advance()
                while true {
                    skipBlank()
                    guard let d = current else { return }
                    if d == "}" { advance(); return }
                    if d == "," { advance(); continue }
                    let before = i
                    keyValue(base: path)
                    if i == before { advance() }
                }
            case "[":
                advance()
                var index = 0
                while true {
                    skipBlank()
                    guard let d = current else { return }
                    if d == "]" { advance(); return }
                    if d == "," { advance(); index += 1; continue }
                    let before = i
                    value(path + "[\(index)]")
                    if i == before { advance() }
                }
            case "\"", "'":
                if i + 2 < s.count, s[i + 1] == c, s[i + 2] == c {
                    advance(); advance(); advance()
                    while !atEnd {
                        if s[i] == "\\" && c == "\"" { advance(); if !atEnd { advance() }; continue }
                        if s[i] == c, i + 2 < s.count, s[i + 1] == c, s[i + 2] == c {
                            advance(); advance(); advance()
                            while current == c { advance() }
                            return
                        }
                        advance()
                    }
                } else {
                    _ = readQuoted(c)
                }
            default:
                while let d = current, d != ",", d != "]", d != "}", d != "\n", d != "#" { _ = d; advance() }
            }
        }
    }
}
