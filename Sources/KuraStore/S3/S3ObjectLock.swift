import Foundation
import KuraCore

/// The S3 Object Lock retention an ``S3Store`` sets on every object it uploads
/// (`x-amz-object-lock-mode` and `x-amz-object-lock-retain-until-date`), so that no key — not even the
/// one that wrote them, and in `COMPLIANCE` mode not even the account's root — can delete or overwrite
/// those object versions before the retention ends. The bucket must have been created with Object Lock
/// enabled (which also enables versioning); S3 refuses the headers otherwise.
///
/// Objects under ``exemptPrefixes`` get no retention of their own (kura's lock objects, which must stay
/// removable). Every S3 PUT carries `Content-MD5`, which S3 requires for uploads with retention.
public struct S3ObjectLock: Sendable, Hashable {
    /// How strict the retention is.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Nobody can delete a locked version or shorten its retention, the account root included.
        case compliance = "COMPLIANCE"
        /// A principal with `s3:BypassGovernanceRetention` can; others cannot.
        case governance = "GOVERNANCE"

        /// `compliance` / `governance`, case-insensitive.
        public init?(parsing text: String) {
            guard let mode = Mode(rawValue: text.uppercased()) else { return nil }
            self = mode
        }
    }

    public var mode: Mode
    /// How long after its upload each object stays locked, in seconds.
    public var retentionSeconds: Int
    /// Key prefixes whose objects get no retention (`["locks/"]` for a kura repository).
    public var exemptPrefixes: [String]

    /// The longest retention accepted (S3's limit for default retention: 100 years); anything longer is
    /// taken for a typo, since a `COMPLIANCE` retention cannot be shortened.
    public static let maximumSeconds = 100 * 365 * 86_400

    public init(mode: Mode = .governance, retentionSeconds: Int, exemptPrefixes: [String] = []) {
        self.mode = mode
        self.retentionSeconds = retentionSeconds
        self.exemptPrefixes = exemptPrefixes
    }

    /// Whether an object stored under `key` (relative to the store) gets the retention.
    public func applies(to key: String) -> Bool { !exemptPrefixes.contains { key.hasPrefix($0) } }

    /// The retain-until date for an object uploaded at `now`: ISO 8601 in UTC, whole seconds, rounded up.
    public func retainUntil(now: Date = Date()) -> String {
        let seconds = Int((now.timeIntervalSince1970).rounded(.up)) + retentionSeconds
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// Checks a retention given by a user: positive and at most ``maximumSeconds``.
    public static func validate(seconds: Double, what: String) throws(KuraError) -> Int {
        guard seconds >= 1, seconds.isFinite else {
            throw KuraError(.usage, "\(what) must be a positive duration", hint: "e.g. 30d; nothing was copied")
        }
        guard seconds <= Double(maximumSeconds) else {
            throw KuraError(.usage, "\(what) is longer than 100 years",
                            hint: "a COMPLIANCE retention can never be shortened; write days, e.g. 30d; nothing was copied")
        }
        return Int(seconds.rounded(.up))
    }
}
