import Foundation
import KuraRepository

/// How `forget` groups snapshots before applying a policy (each group is judged on its own).
public struct SnapshotGrouping: Sendable, OptionSet {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let host = SnapshotGrouping(rawValue: 1)
    public static let paths = SnapshotGrouping(rawValue: 2)
    public static let tags = SnapshotGrouping(rawValue: 4)
    /// restic's default: host and paths (a stream snapshot's paths name its source, e.g. /postgres/…).
    public static let `default`: SnapshotGrouping = [.host, .paths]

    /// Parses "host,paths,tags" (any subset; "" for one group).
    public static func parse(_ text: String) throws -> SnapshotGrouping {
        var g: SnapshotGrouping = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            switch part {
            case "host": g.insert(.host)
            case "paths": g.insert(.paths)
            case "tags": g.insert(.tags)
            default: throw KuraError(.invalidArgument, "unknown grouping '\(part)'", hint: "use a list of host, paths, tags")
            }
        }
        return g
    }

    func key(_ s: Snapshot) -> String {
        var parts: [String] = []
        if contains(.host) { parts.append("host=\(s.host)") }
        if contains(.paths) { parts.append("paths=\(s.paths.sorted().joined(separator: ","))") }
        if contains(.tags) { parts.append("tags=\(s.tags.sorted().joined(separator: ","))") }
        return parts.joined(separator: " ")
    }
}

/// The outcome of `forget` for one group.
public struct ForgetGroup: Sendable, Codable {
    public struct Kept: Sendable, Codable { public var id: String; public var time: String; public var reasons: [String] }
    public struct Removed: Sendable, Codable {
        public var id: String; public var time: String
        public init(id: String, time: String) { self.id = id; self.time = time }
    }
    public var group: String
    public var keep: [Kept]
    public var remove: [Removed]
    public init(group: String, keep: [Kept], remove: [Removed]) { self.group = group; self.keep = keep; self.remove = remove }
}

/// `kura forget`: applies a retention policy (restic's semantics, see ``applyRetention``) to each group
/// of snapshots and deletes the snapshots it does not keep. Data is freed by `gc` afterwards.
public struct Forgetter: Sendable {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    /// Decides, and unless `dryRun` deletes (under the exclusive lock; a dry run takes a shared one).
    /// `host` narrows to snapshots of one host, `filter` to those it accepts (e.g. a source's tag).
    public func run(policy: RetentionPolicy, grouping: SnapshotGrouping = .default, host: String? = nil,
                    filter: (@Sendable (Snapshot) -> Bool)? = nil,
                    dryRun: Bool, calendar: Calendar = .current, now: Date = Date()) async throws -> [ForgetGroup] {
        try await repository.withLock(dryRun ? .shared : .exclusive) { scope in
            try await decide(scope, policy: policy, grouping: grouping, host: host, filter: filter, dryRun: dryRun, calendar: calendar, now: now)
        }
    }

    private func decide(_ scope: LockScope, policy: RetentionPolicy, grouping: SnapshotGrouping, host: String?,
                        filter: (@Sendable (Snapshot) -> Bool)?,
                        dryRun: Bool, calendar: Calendar, now: Date) async throws -> [ForgetGroup] {
        do { try policy.validate() } catch { throw KuraError(.invalidArgument, "\(error)") }
        guard !policy.isEmpty else {
            throw KuraError(.invalidArgument, "no keep rule given: refusing to remove every snapshot",
                            hint: "give at least one of --keep-last/-hourly/-daily/-weekly/-monthly/-yearly/-within/-tag")
        }
        let snapshots = try await repository.listSnapshots().filter { (host == nil || $0.host == host) && (filter?($0) ?? true) }
        var groups: [String: [Snapshot]] = [:]
        for s in snapshots { groups[grouping.key(s), default: []].append(s) }
        var out: [ForgetGroup] = []
        for (key, members) in groups.sorted(by: { $0.key < $1.key }) {
            let byID = Dictionary(members.compactMap { s in s.id.map { ($0.hex, s) } }, uniquingKeysWith: { a, _ in a })
            let candidates = members.compactMap { s -> RetentionCandidate? in
                guard let id = s.id else { return nil }
                return RetentionCandidate(id: id.hex, time: s.date, tags: s.tags, utcOffset: RetentionCandidate.utcOffset(ofTimestamp: s.time))
            }
            let decision = applyRetention(policy, to: candidates, calendar: calendar, now: now)
            out.append(ForgetGroup(
                group: key,
                keep: decision.keep.map { .init(id: $0.candidate.id, time: byID[$0.candidate.id]?.time ?? "", reasons: $0.reasons) },
                remove: decision.remove.map { .init(id: $0.id, time: byID[$0.id]?.time ?? "") }))
        }
        if !dryRun { try await delete(out.flatMap { $0.remove.map(\.id) }, in: scope) }
        return out
    }

    /// Deletes snapshots by full id (under the exclusive lock).
    public func delete(_ ids: [String]) async throws {
        try await repository.withLock(.exclusive) { scope in try await delete(ids, in: scope) }
    }

    private func delete(_ ids: [String], in scope: LockScope) async throws {
        for id in ids {
            do { try await scope.store.delete("snapshots/\(id)") } catch {
                // The store's own code and hint (a key that may not delete, a read-only disk), plus what is safe.
                let cause = Repository.storeError(error, doing: "removing snapshot \(id.prefix(8))")
                throw KuraError(cause.code == .permissionDenied || cause.code == .readOnly ? cause.code : .io,
                                "removing snapshot \(id.prefix(8)) failed: \(error)",
                                hint: (cause.hint.map { $0 + "; " } ?? "") + "snapshots removed before it stay removed; run forget again", cause: cause)
            }
        }
    }
}
