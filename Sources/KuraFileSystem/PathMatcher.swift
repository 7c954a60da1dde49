#if canImport(Glibc)
import Glibc
#endif

/// Glob patterns for `--exclude` and `--include` (fnmatch syntax): a pattern without "/" matches an
/// entry's name at any depth; a pattern with "/" matches the whole absolute path, and `*` does not
/// cross "/" there. A trailing "/" is ignored.
public struct PathMatcher: Sendable {
    let namePatterns: [String]
    let pathPatterns: [String]

    public init(_ patterns: [String]) {
        namePatterns = patterns.filter { !$0.contains("/") }
        pathPatterns = patterns.filter { $0.contains("/") }.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    public var isEmpty: Bool { namePatterns.isEmpty && pathPatterns.isEmpty }

    /// True when the entry called `name` at absolute `path` matches a pattern.
    public func matches(name: [UInt8], path: [UInt8]) -> Bool {
        if isEmpty { return false }
        return namePatterns.contains { PathMatcher.fnmatch($0, name, 0) }
            || pathPatterns.contains { PathMatcher.fnmatch($0, path, FNM_PATHNAME) }
    }

    /// True when something inside the directory at `path` could match (so a walk must go in).
    public func mayMatchInside(_ path: [UInt8]) -> Bool {
        if !namePatterns.isEmpty { return true }
        let depth = path.split(separator: 47, omittingEmptySubsequences: true).count
        return pathPatterns.contains { pattern in
            let parts = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            if parts.contains("**") { return true }
            guard parts.count > depth else { return false }
            return PathMatcher.fnmatch("/" + parts.prefix(depth).joined(separator: "/"), path, FNM_PATHNAME)
        }
    }

    static func fnmatch(_ pattern: String, _ bytes: [UInt8], _ flags: Int32) -> Bool {
        withCPath(bytes) { Glibc.fnmatch(pattern, $0, flags) == 0 }
    }
}
