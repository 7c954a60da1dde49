import Foundation
import KuraCore

/// Which snapshots `kura forget` keeps: restic's `forget --keep-*` policy, with restic's semantics.
///
/// A snapshot is kept if any rule keeps it (the rules are ORed). The count rules walk the snapshots newest
/// first and keep the newest snapshot of each distinct period (hour, day, ISO week, month, year of the wall
/// clock) until their count is used up; periods without snapshots do not count. Periods are calendar periods
/// (a day is 00:00–23:59, a week Monday–Sunday), not intervals ending now. See
/// ``applyRetention(_:to:calendar:now:compatibility:)``.
public struct RetentionPolicy: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The count meaning "no limit" (restic ≥ 0.16 `--keep-* unlimited`; restic 0.14 ignores it).
    public static let unlimited = -1

    /// `--keep-last n`: the n newest snapshots.
    public var last: Int
    /// `--keep-hourly n`: the newest snapshot of each of the n newest hours that have snapshots.
    public var hourly: Int
    /// `--keep-daily n`: the newest snapshot of each of the n newest days that have snapshots.
    public var daily: Int
    /// `--keep-weekly n`: the newest snapshot of each of the n newest ISO weeks that have snapshots.
    public var weekly: Int
    /// `--keep-monthly n`: the newest snapshot of each of the n newest months that have snapshots.
    public var monthly: Int
    /// `--keep-yearly n`: the newest snapshot of each of the n newest years that have snapshots.
    public var yearly: Int
    /// `--keep-within d`: every snapshot newer than the newest (non-future) snapshot minus `d`.
    /// `nil` and a zero duration both mean "not given".
    public var within: RetentionDuration?
    /// `--keep-within-hourly d`: the newest snapshot of every hour, among the snapshots `within` would keep for `d`.
    public var withinHourly: RetentionDuration?
    /// `--keep-within-daily d`: the newest snapshot of every day within `d` of the newest snapshot.
    public var withinDaily: RetentionDuration?
    /// `--keep-within-weekly d`: the newest snapshot of every ISO week within `d` of the newest snapshot.
    public var withinWeekly: RetentionDuration?
    /// `--keep-within-monthly d`: the newest snapshot of every month within `d` of the newest snapshot.
    public var withinMonthly: RetentionDuration?
    /// `--keep-within-yearly d`: the newest snapshot of every year within `d` of the newest snapshot.
    public var withinYearly: RetentionDuration?
    /// `--keep-tag`: one element per option; a snapshot is kept if it has every tag of any element.
    /// An element `[""]` matches untagged snapshots; see ``RetentionCandidate/hasTags(_:)``.
    public var tags: [[String]]

    /// A policy; everything defaults to "not given". Counts are n ≥ 0 or ``unlimited``.
    public init(last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0,
                within: RetentionDuration? = nil,
                withinHourly: RetentionDuration? = nil, withinDaily: RetentionDuration? = nil,
                withinWeekly: RetentionDuration? = nil, withinMonthly: RetentionDuration? = nil,
                withinYearly: RetentionDuration? = nil,
                tags: [[String]] = []) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
        self.within = within
        self.withinHourly = withinHourly
        self.withinDaily = withinDaily
        self.withinWeekly = withinWeekly
        self.withinMonthly = withinMonthly
        self.withinYearly = withinYearly
        self.tags = tags
    }

    /// Whether no rule is given: every count is 0, every duration absent or zero, no tag list (restic's
    /// `ExpirePolicy.Empty()`). restic's `forget` does nothing with an empty policy (0.14 silently, 0.17+ with an
    /// error), so the caller should refuse it; applying it keeps everything (≤ 0.16) or nothing (0.17+).
    /// Note that a `-1` count or a negative duration makes the policy non-empty.
    public var isEmpty: Bool {
        [last, hourly, daily, weekly, monthly, yearly].allSatisfy { $0 == 0 }
            && durations.allSatisfy { $0.value?.isZero ?? true }
            && tags.isEmpty
    }

    /// Checks the values as restic 0.16+ `forget` does: counts must be ≥ 0 or -1, durations must not have
    /// negative parts. (restic 0.14 accepted both, with odd results: a negative count is ignored and a negative
    /// duration moves the `within` limit after the newest snapshot.)
    public func validate() throws(RetentionPolicyError) {
        let counts = [("last", last), ("hourly", hourly), ("daily", daily),
                      ("weekly", weekly), ("monthly", monthly), ("yearly", yearly)]
        for (name, value) in counts where value < RetentionPolicy.unlimited {
            throw .invalidCount(rule: "keep-\(name)", value: value)
        }
        for (name, value) in durations {
            if let value, value.hasNegativePart { throw .negativeDuration(rule: name, duration: value) }
        }
    }

    /// Parses a duration like "14d", "1y6m", "2d12h" (restic's format: numbers with units y, m (months), d, h,
    /// in any order; surrounding white space ignored; `""` is the zero duration, i.e. "not given").
    /// Throws a ``RetentionDurationError`` that names the input and the expected format otherwise.
    public static func parseDuration(_ text: String) throws(RetentionDurationError) -> RetentionDuration {
        try RetentionDuration.parse(text)
    }

    /// Splits a `--keep-tag` argument the way restic does: at commas, trimming white space around each tag
    /// (`"a, b"` is `["a", "b"]`; `""` is `[""]`, which matches untagged snapshots).
    public static func parseTagList(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// restic's "Applying Policy" text, e.g. `keep 7 daily, 4 weekly snapshots and all snapshots within 14d of
    /// the newest`, or `remove` for an empty policy (restic 0.18's wording, `all daily` for unlimited).
    public var description: String {
        let counts = [(last, "latest"), (hourly, "hourly"), (daily, "daily"),
                      (weekly, "weekly"), (monthly, "monthly"), (yearly, "yearly")]
        let keeps = counts.compactMap { count, name -> String? in
            count > 0 ? "\(count) \(name)" : count == RetentionPolicy.unlimited ? "all \(name)" : nil
        }
        let keepWithin = [(withinHourly, "hourly"), (withinDaily, "daily"), (withinWeekly, "weekly"),
                          (withinMonthly, "monthly"), (withinYearly, "yearly")]
            .compactMap { duration, name -> String? in
                guard let duration, !duration.isZero else { return nil }
                return "\(name) snapshots within \(duration)"
            }
        var text = keeps.isEmpty ? "" : keeps.joined(separator: ", ") + " snapshots"
        if !keepWithin.isEmpty {
            text += (text.isEmpty ? "" : ", ") + keepWithin.joined(separator: ", ")
        }
        if !tags.isEmpty {
            let lists = tags.map { "[" + $0.joined(separator: ", ") + "]" }.joined(separator: " ")
            text += (text.isEmpty ? "" : " and ") + "all snapshots with tags [\(lists)]"
        }
        if let within, !within.isZero {
            text += (text.isEmpty ? "" : " and ") + "all snapshots within \(within) of the newest"
        }
        return text.isEmpty ? "remove" : "keep " + text
    }

    /// Decodes a policy; missing keys mean "not given".
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int { try container.decodeIfPresent(Int.self, forKey: key) ?? 0 }
        func duration(_ key: CodingKeys) throws -> RetentionDuration? {
            try container.decodeIfPresent(RetentionDuration.self, forKey: key)
        }
        self.init(last: try count(.last), hourly: try count(.hourly), daily: try count(.daily),
                  weekly: try count(.weekly), monthly: try count(.monthly), yearly: try count(.yearly),
                  within: try duration(.within), withinHourly: try duration(.withinHourly),
                  withinDaily: try duration(.withinDaily), withinWeekly: try duration(.withinWeekly),
                  withinMonthly: try duration(.withinMonthly), withinYearly: try duration(.withinYearly),
                  tags: try container.decodeIfPresent([[String]].self, forKey: .tags) ?? [])
    }

    private var durations: [(name: String, value: RetentionDuration?)] {
        [("keep-within", within), ("keep-within-hourly", withinHourly), ("keep-within-daily", withinDaily),
         ("keep-within-weekly", withinWeekly), ("keep-within-monthly", withinMonthly),
         ("keep-within-yearly", withinYearly)]
    }
}

/// Why a ``RetentionPolicy`` is not acceptable to restic 0.16+ `forget`.
public enum RetentionPolicyError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// A count below -1.
    case invalidCount(rule: String, value: Int)
    /// A duration with a negative part.
    case negativeDuration(rule: String, duration: RetentionDuration)

    /// A message naming the option.
    public var description: String {
        switch self {
        case .invalidCount(let rule, let value):
            return "--\(rule) \(value): counts must be 0 or more, or unlimited (-1)"
        case .negativeDuration(let rule, let duration):
            return "--\(rule) \(duration): durations containing negative values are not allowed"
        }
    }

    /// Same as ``description``.
    public var errorDescription: String? { description }
}

/// Applies the policy to one group of snapshots (already grouped and filtered by the caller), as restic's
/// `forget` does (`ApplyPolicy` in restic's snapshot_policy.go, matched against the real restic in the tests).
///
/// - The snapshots are sorted newest first; equal times keep the order given.
/// - `--keep-tag` and `--keep-within` keep without counting. `within` is measured back from the newest snapshot
///   that is not in the future (before `now`), not from `now`; future snapshots are therefore always kept by
///   `within` rules. If every snapshot is in the future, all of them are within.
/// - Each count rule keeps a snapshot whose period (`last`: every snapshot; hourly: YYYYMMDDHH; daily: YYYYMMDD;
///   weekly: ISO year·100 + ISO week; monthly: YYYYMM; yearly: YYYY, all on the snapshot's wall clock) differs
///   from that of the previous snapshot it looked at, and counts down. Since the snapshots are sorted, that is
///   the newest snapshot of each period.
/// - Since restic 0.16 a rule with counts left (or unlimited) also keeps the oldest snapshot of the group,
///   so that the kept history reaches back as far as possible ("oldest daily snapshot" in 0.18).
/// - `--keep-within-{hourly,…}` keep the newest snapshot of each period among the snapshots newer than the
///   limit, without a count.
///
/// - Parameters:
///   - policy: the rules.
///   - snapshots: one group, in any order.
///   - calendar: only its `timeZone` is used: the local zone in which periods are taken (restic's `TZ`), and
///     in which `within` steps back years, months and days. Dates are always Gregorian, as in Go.
///   - now: the present, only used to leave future snapshots out when finding the newest snapshot.
///   - compatibility: the restic release whose behaviour to reproduce, see ``ResticCompatibility``.
/// - Returns: the snapshots to keep, each with every rule that keeps it, and those to remove, both newest first.
public func applyRetention(_ policy: RetentionPolicy, to snapshots: [RetentionCandidate],
                           calendar: Calendar = .current, now: Date = Date(),
                           compatibility: ResticCompatibility = .latest) -> RetentionDecision {
    let list = snapshots.enumerated()
        .sorted { $0.element.time != $1.element.time ? $0.element.time > $1.element.time : $0.offset < $1.offset }
        .map(\.element)
    guard !list.isEmpty else { return RetentionDecision(keep: [], remove: []) }
    if policy.isEmpty && compatibility.emptyPolicyKeepsAll {
        return RetentionDecision(keep: list.map { .init(candidate: $0, reasons: ["policy is empty"]) }, remove: [])
    }

    let localZone = calendar.timeZone
    let zones = list.map { $0.zone(local: localZone) }

    // The reference for the within rules: the newest snapshot before `now`, else Go's zero time (in UTC).
    var latest = RetentionClock.goZeroTime
    var latestZone = RetentionClock.Zone.fixed(0)
    for (candidate, zone) in zip(list, zones) where candidate.time > latest && candidate.time < now {
        latest = candidate.time
        latestZone = zone
    }
    func limit(_ duration: RetentionDuration?) -> Date? {
        guard let duration, !duration.isZero else { return nil }
        return withinLimit(latest: latest, zone: latestZone, duration: duration)
    }
    let withinLimitDate = limit(policy.within)

    enum Period { case each, hour, day, week, month, year }
    func period(_ kind: Period, _ civil: RetentionClock.Civil, _ index: Int) -> Int {
        switch kind {
        case .each: return index
        case .hour: return civil.year &* 1_000_000 &+ civil.month &* 10_000 &+ civil.day &* 100 &+ civil.hour
        case .day: return civil.year &* 10_000 &+ civil.month &* 100 &+ civil.day
        case .week:
            let (year, week) = RetentionClock.isoWeek(dayNumber: civil.dayNumber)
            return year &* 100 &+ week
        case .month: return civil.year &* 100 &+ civil.month
        case .year: return civil.year
        }
    }

    struct CountRule { var count: Int; let period: Period; let reason: String; var last = -1 }
    var countRules = [
        CountRule(count: policy.last, period: .each, reason: "last snapshot"),
        CountRule(count: policy.hourly, period: .hour, reason: "hourly snapshot"),
        CountRule(count: policy.daily, period: .day, reason: "daily snapshot"),
        CountRule(count: policy.weekly, period: .week, reason: "weekly snapshot"),
        CountRule(count: policy.monthly, period: .month, reason: "monthly snapshot"),
        CountRule(count: policy.yearly, period: .year, reason: "yearly snapshot"),
    ]
    struct WithinRule { let limit: Date?; let duration: String; let period: Period; let reason: String; var last = -1 }
    var withinRules = [
        WithinRule(limit: limit(policy.withinHourly), duration: "\(policy.withinHourly ?? .zero)",
                   period: .hour, reason: "hourly within"),
        WithinRule(limit: limit(policy.withinDaily), duration: "\(policy.withinDaily ?? .zero)",
                   period: .day, reason: "daily within"),
        WithinRule(limit: limit(policy.withinWeekly), duration: "\(policy.withinWeekly ?? .zero)",
                   period: .week, reason: "weekly within"),
        WithinRule(limit: limit(policy.withinMonthly), duration: "\(policy.withinMonthly ?? .zero)",
                   period: .month, reason: "monthly within"),
        WithinRule(limit: limit(policy.withinYearly), duration: "\(policy.withinYearly ?? .zero)",
                   period: .year, reason: "yearly within"),
    ]

    var keep: [RetentionDecision.Kept] = []
    var remove: [RetentionCandidate] = []
    for (index, candidate) in list.enumerated() {
        let civil = RetentionClock.civil(candidate.time, in: zones[index])
        let isOldest = index == list.count - 1
        var reasons: [String] = []

        for tagList in policy.tags where candidate.hasTags(tagList) {
            reasons.append("has tags [" + tagList.joined(separator: ", ") + "]")
        }
        if let withinLimitDate, candidate.time > withinLimitDate {
            reasons.append("within \(policy.within ?? .zero)")
        }

        for i in countRules.indices {
            let rule = countRules[i]
            guard rule.count > 0 || (rule.count == RetentionPolicy.unlimited && compatibility.honoursUnlimited)
            else { continue }
            let value = period(rule.period, civil, index)
            let extraOldest = compatibility.keepsOldest && isOldest && value == rule.last
            guard value != rule.last || extraOldest else { continue }
            countRules[i].last = value
            if rule.count > 0 { countRules[i].count -= 1 }
            reasons.append(extraOldest && compatibility.marksOldest ? "oldest " + rule.reason : rule.reason)
        }

        for i in withinRules.indices {
            let rule = withinRules[i]
            guard let limit = rule.limit, candidate.time > limit else { continue }
            let value = period(rule.period, civil, index)
            let extraOldest = compatibility.keepsOldest && isOldest && value == rule.last
            guard value != rule.last || extraOldest else { continue }
            withinRules[i].last = value
            let reason = extraOldest && compatibility.marksOldest ? "oldest " + rule.reason : rule.reason
            reasons.append("\(reason) \(rule.duration)")
        }

        if reasons.isEmpty {
            remove.append(candidate)
        } else {
            keep.append(.init(candidate: candidate, reasons: reasons))
        }
    }
    return RetentionDecision(keep: keep, remove: remove)
}

/// `latest.AddDate(-years, -months, -days).Add(-hours)` in `zone`, as restic computes the `within` limit.
/// Durations too large for any real date give a limit before (or, if negative, after) every snapshot.
private func withinLimit(latest: Date, zone: RetentionClock.Zone, duration: RetentionDuration) -> Date {
    let bounded = duration.years.magnitude <= 1_000_000 && duration.months.magnitude <= 12_000_000
        && duration.days.magnitude <= 400_000_000 && duration.hours.magnitude <= 9_000_000_000
    guard bounded else {
        let approximateSeconds = Double(duration.years) * 31_556_952 + Double(duration.months) * 2_629_746
            + Double(duration.days) * 86_400 + Double(duration.hours) * 3_600
        return Date(timeIntervalSince1970: approximateSeconds > 0 ? -.greatestFiniteMagnitude : .greatestFiniteMagnitude)
    }
    let shifted = RetentionClock.addDate(latest, in: zone, years: -duration.years, months: -duration.months,
                                         days: -duration.days)
    return shifted.addingTimeInterval(-Double(duration.hours) * 3_600)
}

extension RetentionPolicyError: KuraErrorConvertible {
    public var kuraError: KuraError { KuraError(.invalidArgument, description, cause: self) }
}

extension RetentionDurationError: KuraErrorConvertible {
    public var kuraError: KuraError { KuraError(.invalidArgument, description, hint: "e.g. 14d, 1y6m, 2d12h", cause: self) }
}
