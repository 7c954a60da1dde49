import Foundation

/// The outcome of applying a ``RetentionPolicy`` to one group of snapshots.
public struct RetentionDecision: Sendable, Equatable {
    /// A snapshot to keep and every rule that keeps it.
    public struct Kept: Sendable, Equatable {
        /// The snapshot.
        public var candidate: RetentionCandidate
        /// restic's "matches", in restic's order: `has tags [a, b]`, `within 14d`, `last snapshot`,
        /// `hourly snapshot`, `daily snapshot`, `weekly snapshot`, `monthly snapshot`, `yearly snapshot`,
        /// `hourly within 2d` … `yearly within 5y`; `oldest ` is prefixed when a rule keeps the oldest snapshot
        /// only because it still has counts left (restic 0.18+); `policy is empty` for an empty policy (≤ 0.16).
        public var reasons: [String]

        /// A kept snapshot.
        public init(candidate: RetentionCandidate, reasons: [String]) {
            self.candidate = candidate
            self.reasons = reasons
        }
    }

    /// The snapshots to keep, newest first.
    public var keep: [Kept]
    /// The snapshots to remove, newest first.
    public var remove: [RetentionCandidate]

    /// A decision.
    public init(keep: [Kept], remove: [RetentionCandidate]) {
        self.keep = keep
        self.remove = remove
    }

    /// The kept snapshots without their reasons, newest first.
    public var kept: [RetentionCandidate] { keep.map(\.candidate) }
}
