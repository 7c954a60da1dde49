import KuraCore

/// The one pattern language of kura, shared by `backup --exclude` and `restore --include`
/// (documented for users in docs/patterns.md; restic's rules are the model):
///
/// - A pattern is matched against an entry's absolute path, component by component.
/// - A pattern that starts with "/" is anchored at the root; any other pattern may match at any depth
///   (`sub/b.txt` matches `/x/sub/b.txt` and `/sub/b.txt`; `*.log` matches every name ending in .log).
/// - In a component, `*` matches any bytes (never "/"), `?` one byte, `[abc]`, `[a-z]` and `[!a-z]`
///   (or `[^a-z]`) one byte of a set, and `\` makes the next character literal.
/// - A component that is exactly `**` matches any number of components, none included.
/// - Matching a folder matches everything inside it. A trailing "/" is ignored.
///
/// Invalid patterns (an unclosed `[`, a trailing `\`, an empty pattern) are rejected by
/// ``init(validating:)`` and ``validate(_:)`` with a `.usage` error (exit 64), so a typo never turns
/// into a silent "nothing matched".
public struct PathMatcher: Sendable {
    /// One parsed pattern: its text and components (`**` kept as a component).
    struct Pattern: Sendable {
        var text: String
        var components: [[UInt8]]
        /// False when the pattern could not be parsed (only with the non-validating initializer): it matches nothing.
        var valid: Bool
    }

    let patterns: [Pattern]

    /// Parses `patterns`; an invalid pattern matches nothing. Callers that take patterns from a user
    /// validate them first (``validate(_:)``) or use ``init(validating:)``.
    public init(_ patterns: [String]) {
        self.patterns = patterns.map { (try? PathMatcher.parse($0)) ?? Pattern(text: $0, components: [], valid: false) }
    }

    /// Parses `patterns`, throwing a `.usage` error that names the first invalid one and what is wrong.
    public init(validating patterns: [String], option: String = "pattern") throws {
        self.patterns = try patterns.map { p in
            do { return try PathMatcher.parse(p) } catch let problem as PatternProblem {
                throw KuraError(.usage, "invalid \(option) '\(p)': \(problem.reason)",
                                hint: "see docs/patterns.md: * ? [a-z] [!a-z] within a name, ** for any number of folders, a leading / anchors at the root")
            }
        }
    }

    /// Throws a `.usage` error for the first invalid pattern.
    public static func validate(_ patterns: [String], option: String = "pattern") throws {
        _ = try PathMatcher(validating: patterns, option: option)
    }

    public var isEmpty: Bool { patterns.isEmpty }
    /// The patterns as given, in order (index = what ``matchingPattern(name:path:)`` returns).
    public var texts: [String] { patterns.map(\.text) }

    /// True when the entry at absolute `path` matches a pattern.
    public func matches(name: [UInt8], path: [UInt8]) -> Bool {
        matchingPattern(name: name, path: path) != nil
    }

    /// The index of the first pattern that matches the entry at absolute `path`, or nil.
    public func matchingPattern(name: [UInt8], path: [UInt8]) -> Int? {
        if patterns.isEmpty { return nil }
        let parts = PathMatcher.components(path)
        return patterns.firstIndex { $0.valid && PathMatcher.match($0.components[...], parts[...]) }
    }

    /// The indices of all patterns that match the entry at absolute `path`.
    public func matchingPatterns(path: [UInt8]) -> [Int] {
        if patterns.isEmpty { return [] }
        let parts = PathMatcher.components(path)
        return patterns.indices.filter { patterns[$0].valid && PathMatcher.match(patterns[$0].components[...], parts[...]) }
    }

    /// True when something inside the folder at `path` could match (so a walk must go in).
    public func mayMatchInside(_ path: [UInt8]) -> Bool {
        let parts = PathMatcher.components(path)
        return patterns.contains { $0.valid && PathMatcher.matchPrefix($0.components[...], parts[...]) }
    }

    // MARK: - Parsing

    struct PatternProblem: Error { var reason: String }

    static func parse(_ text: String) throws -> Pattern {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw PatternProblem(reason: "it is empty") }
        guard !bytes.contains(0) else { throw PatternProblem(reason: "it contains a NUL byte") }
        var parts = bytes.split(separator: 47, omittingEmptySubsequences: true).map(Array.init)
        guard !parts.isEmpty else { throw PatternProblem(reason: "it names only the root; give the paths to back up instead") }
        for part in parts { try checkComponent(part) }
        // A relative pattern may match at any depth: it behaves as if it started with "/**/".
        if bytes.first != 47 { parts.insert(doubleStar, at: 0) }
        // Runs of "**" mean the same as one.
        var collapsed: [[UInt8]] = []
        for p in parts where !(p == doubleStar && collapsed.last == doubleStar) { collapsed.append(p) }
        return Pattern(text: text, components: collapsed, valid: true)
    }

    static let doubleStar: [UInt8] = [42, 42]

    /// Rejects what cannot be a pattern: an unclosed `[`, an empty set `[]`, a trailing `\`, a `**`
    /// inside a name (`a**b`: only a whole component may be `**`).
    static func checkComponent(_ p: [UInt8]) throws {
        if p != doubleStar, p.count >= 2, zip(p, p.dropFirst()).contains(where: { $0 == 42 && $1 == 42 }) {
            throw PatternProblem(reason: "'**' must be a whole path component (like 'a/**/b'); within a name use '*'")
        }
        var i = 0
        while i < p.count {
            switch p[i] {
            case 92:  // backslash
                guard i + 1 < p.count else { throw PatternProblem(reason: "it ends with an unfinished escape '\\'") }
                i += 2
            case 91:  // [
                guard let end = classEnd(p, from: i) else { throw PatternProblem(reason: "'[' opens a character set that is never closed with ']'") }
                i = end + 1
            default:
                i += 1
            }
        }
    }

    /// The index of the `]` closing the set that starts at `start`, or nil. A `]` right after `[` or
    /// `[!` is a member, not the end.
    static func classEnd(_ p: [UInt8], from start: Int) -> Int? {
        var i = start + 1
        if i < p.count, p[i] == 33 || p[i] == 94 { i += 1 }
        if i < p.count, p[i] == 93 { i += 1 }
        while i < p.count {
            if p[i] == 92 { i += 2; continue }
            if p[i] == 93 { return i }
            i += 1
        }
        return nil
    }

    static func components(_ path: [UInt8]) -> [[UInt8]] {
        path.split(separator: 47, omittingEmptySubsequences: true).map(Array.init)
    }

    // MARK: - Matching

    /// Whether the pattern components match exactly the path components.
    static func match(_ pattern: ArraySlice<[UInt8]>, _ path: ArraySlice<[UInt8]>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == doubleStar {
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var p = path
            while true {
                if match(rest, p) { return true }
                if p.isEmpty { return false }
                p = p.dropFirst()
            }
        }
        guard let name = path.first, matchName(first[...], name[...]) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// Whether some path that starts with `path` and is longer could match the pattern.
    static func matchPrefix(_ pattern: ArraySlice<[UInt8]>, _ path: ArraySlice<[UInt8]>) -> Bool {
        guard let first = pattern.first else { return false }
        if path.isEmpty { return true }
        if first == doubleStar { return true }
        guard matchName(first[...], path.first![...]) else { return false }
        return matchPrefix(pattern.dropFirst(), path.dropFirst())
    }

    /// Glob match of one component (no "/" on either side), byte by byte.
    static func matchName(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
        var pi = p.startIndex, si = s.startIndex
        var starP = -1, starS = -1
        while si < s.endIndex {
            if pi < p.endIndex {
                switch p[pi] {
                case 42:  // *
                    starP = pi; starS = si; pi += 1
                    continue
                case 63:  // ?
                    pi += 1; si += 1
                    continue
                case 91:  // [
                    if let end = classEnd(Array(p[pi...]), from: 0).map({ $0 + pi }), classContains(p[(pi + 1)..<end], s[si]) {
                        pi = end + 1; si += 1
                        continue
                    }
                case 92:  // \
                    if pi + 1 < p.endIndex, p[pi + 1] == s[si] { pi += 2; si += 1; continue }
                default:
                    if p[pi] == s[si] { pi += 1; si += 1; continue }
                }
            }
            // Mismatch: let the last * take one more byte, if there was one.
            guard starP >= 0 else { return false }
            starS += 1
            pi = starP + 1; si = starS
        }
        while pi < p.endIndex, p[pi] == 42 { pi += 1 }
        return pi == p.endIndex
    }

    /// Whether `byte` is in the set written between `[` and `]`.
    static func classContains(_ set: ArraySlice<UInt8>, _ byte: UInt8) -> Bool {
        var i = set.startIndex
        var negated = false
        if i < set.endIndex, set[i] == 33 || set[i] == 94 { negated = true; i += 1 }
        var found = false
        while i < set.endIndex {
            var lo = set[i]
            if lo == 92, i + 1 < set.endIndex { i += 1; lo = set[i] }
            i += 1
            var hi = lo
            if i + 1 < set.endIndex, set[i] == 45 {  // a range, a-z
                var h = set[i + 1]
                var step = 2
                if h == 92, i + 2 < set.endIndex { h = set[i + 2]; step = 3 }
                hi = h
                i += step
            }
            if lo <= byte && byte <= hi { found = true }
        }
        return found != negated
    }
}
