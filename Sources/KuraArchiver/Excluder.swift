#if canImport(Glibc)
import Glibc
#endif

/// Matches paths against `--exclude` globs (fnmatch syntax).
struct Excluder: Sendable {
    let namePatterns: [String]
    let pathPatterns: [String]

    init(_ patterns: [String]) {
        namePatterns = patterns.filter { !$0.contains("/") }
        pathPatterns = patterns.filter { $0.contains("/") }.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    var isEmpty: Bool { namePatterns.isEmpty && pathPatterns.isEmpty }

    /// True when the entry called `name` at absolute `path` is excluded.
    func excludes(name: [UInt8], path: [UInt8]) -> Bool {
        if isEmpty { return false }
        for p in namePatterns where Excluder.match(p, name, flags: 0) { return true }
        for p in pathPatterns where Excluder.match(p, path, flags: FNM_PATHNAME) { return true }
        return false
    }

    static func match(_ pattern: String, _ bytes: [UInt8], flags: Int32) -> Bool {
        var b = bytes; b.append(0)
        return b.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { fnmatch(pattern, $0.baseAddress!, flags) == 0 }
        }
    }
}
