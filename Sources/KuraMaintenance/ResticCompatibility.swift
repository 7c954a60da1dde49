import Foundation

/// Which restic release's `forget` the retention engine reproduces. Their policy code differs in four places:
///
/// | | 0.12.1 – 0.15 | 0.16 | 0.17 | 0.18 and later |
/// |---|---|---|---|---|
/// | count `-1` | ignored (keeps nothing!) | unlimited | unlimited | unlimited |
/// | oldest snapshot kept while a rule has counts left | no | yes | yes | yes, reason prefixed "oldest " |
/// | empty policy | keeps all ("policy is empty") | keeps all | removes all | removes all |
///
/// Command-line checks are the caller's business: from 0.16 restic rejects negative counts (-1 is spelled
/// `unlimited`) and negative durations, see ``RetentionPolicy/validate()``; from 0.17 it refuses an empty policy
/// unless `--unsafe-allow-remove-all` is given, and refuses to remove every snapshot of a group.
public enum ResticCompatibility: String, Sendable, Hashable, Codable, CaseIterable {
    /// restic 0.12.1 up to 0.15.x (Debian and Ubuntu ship 0.14).
    case v0_14 = "0.14"
    /// restic 0.16.x.
    case v0_16 = "0.16"
    /// restic 0.17.x.
    case v0_17 = "0.17"
    /// restic 0.18 and later, the current behaviour.
    case v0_18 = "0.18"

    /// The newest behaviour, the default of ``applyRetention(_:to:calendar:now:compatibility:)``.
    public static let latest: ResticCompatibility = .v0_18

    /// The behaviour of the restic release named in `resticVersion`, which may be a bare version (`"0.14.0"`)
    /// or the output of `restic version` (`"restic 0.14.0 compiled with go1.19.8 on linux/amd64"`).
    /// `nil` for text without a version and for releases before 0.12.1, whose `--keep-within-*` differed.
    public init?(resticVersion: String) {
        var parts: [Int]?
        for word in resticVersion.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            let word = word.hasPrefix("v") ? word.dropFirst() : word[...]
            let numbers = word.split(separator: ".", omittingEmptySubsequences: false).map { part in
                Int(part.prefix(while: { $0.isASCII && $0.isNumber }))
            }
            if numbers.count >= 2, numbers.allSatisfy({ $0 != nil }) {
                parts = numbers.map { $0! }
                break
            }
        }
        guard let parts else { return nil }
        let (major, minor, patch) = (parts[0], parts[1], parts.count > 2 ? parts[2] : 0)
        if major > 0 || minor >= 18 {
            self = .v0_18
        } else if minor == 17 {
            self = .v0_17
        } else if minor == 16 {
            self = .v0_16
        } else if minor > 12 || (minor == 12 && patch >= 1) {
            self = .v0_14
        } else {
            return nil
        }
    }

    /// Whether a count of -1 means "unlimited" (0.16+); before, only positive counts were honoured.
    var honoursUnlimited: Bool { self != .v0_14 }
    /// Whether the oldest snapshot is kept by every rule that still has counts left (0.16+).
    var keepsOldest: Bool { self != .v0_14 }
    /// Whether such an extra oldest snapshot's reason is prefixed "oldest " (0.18+).
    var marksOldest: Bool { self == .v0_18 }
    /// Whether an empty policy keeps every snapshot (up to 0.16) rather than none.
    var emptyPolicyKeepsAll: Bool { self == .v0_14 || self == .v0_16 }
}
