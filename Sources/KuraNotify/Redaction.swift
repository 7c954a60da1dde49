import Foundation

/// Keeps secrets out of logs, reports and error messages.
public enum Redaction {
    /// A repository location or other URL with any password in it replaced by `***`:
    /// `sftp://backup:s3cret@nas/kura` → `sftp://backup:***@nas/kura`. Plain paths come back unchanged.
    public static func location(_ location: String) -> String {
        guard let schemeEnd = location.range(of: "://") else { return location }
        let afterScheme = location[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return location }
        let userInfo = authority[..<at]
        let user = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let redactedUser = userInfo.contains(":") ? "\(user):***" : String(user)
        return String(location[..<schemeEnd.upperBound]) + redactedUser + String(authority[at...]) + String(afterScheme[authorityEnd...])
    }

    /// Where a URL points, without anything that may be a secret: scheme, host and port only
    /// (`https://hooks.slack.com/…` for a Slack webhook, whose path is its key).
    public static func endpoint(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return "<url>" }
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        var authority = afterScheme[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let rest = afterScheme[authorityEnd...]
        return String(url[..<schemeEnd.upperBound]) + authority + (rest.isEmpty || rest == "/" ? String(rest) : "/…")
    }

    /// `text` with every occurrence of each non-empty secret replaced by `***`.
    public static func scrub(_ text: String, secrets: [String?]) -> String {
        var out = text
        for case let secret? in secrets where secret.count >= 3 {
            out = out.replacingOccurrences(of: secret, with: "***")
        }
        return out
    }
}
