import Foundation
import KuraCore

/// Where the time comes from: the system clock in production, a fixed or stepping clock in tests.
public struct RunClock: Sendable {
    public let now: @Sendable () -> Date
    public init(_ now: @escaping @Sendable () -> Date) { self.now = now }
    public static let system = RunClock { Date() }
    public static func fixed(_ date: Date) -> RunClock { RunClock { date } }
}

/// Turns cron expressions into instants in a time zone.
///
/// Daylight-saving rules (documented in docs/configuration.md):
/// - **Spring forward** (a wall-clock time that does not exist, e.g. 02:30 on the last Sunday of March in
///   Europe/Berlin): the job runs once, at the first instant after the gap (03:00 local). Several
///   times inside the gap collapse into that one run.
/// - **Fall back** (a wall-clock time that happens twice, e.g. 02:30 on the last Sunday of October): the
///   job runs once, at the first occurrence (02:30 summer time) — unless its hour field is `*` or
///   `*/n`, an interval job, which runs in both passes so that "every 15 minutes" stays every 15 minutes.
public struct Schedule: Sendable {
    public let expressions: [CronExpression]
    public let timeZone: TimeZone

    public init(_ expressions: [CronExpression], timeZone: TimeZone) {
        self.expressions = expressions
        self.timeZone = timeZone
    }

    /// How far the searches look (a schedule like "0 0 29 2 1" can be years apart).
    static let searchDays = 366 * 8

    /// The first time the schedule fires strictly after `date`.
    public func next(after date: Date) -> Date? {
        guard !expressions.isEmpty else { return nil }
        let t = Int(date.timeIntervalSince1970.rounded(.down))
        let startDay = GregorianCalendar.dayNumber(seconds: t, offset: timeZone.secondsFromGMT(for: date)) - 1
        for day in startDay...(startDay + Schedule.searchDays) {
            if let first = firings(onDay: day).first(where: { $0 > t }) { return Date(timeIntervalSince1970: Double(first)) }
        }
        return nil
    }

    /// The last time the schedule fired at or before `date`.
    public func previous(atOrBefore date: Date) -> Date? {
        guard !expressions.isEmpty else { return nil }
        let t = Int(date.timeIntervalSince1970.rounded(.down))
        let startDay = GregorianCalendar.dayNumber(seconds: t, offset: timeZone.secondsFromGMT(for: date)) + 1
        for day in stride(from: startDay, through: startDay - Schedule.searchDays, by: -1) {
            if let last = firings(onDay: day).last(where: { $0 <= t }) { return Date(timeIntervalSince1970: Double(last)) }
        }
        return nil
    }

    /// Every firing (seconds since 1970, sorted, unique) of the local civil day `day` (days since 1970-01-01).
    func firings(onDay day: Int) -> [Int] {
        let (y, m, d) = GregorianCalendar.date(dayNumber: day)
        let weekday = GregorianCalendar.weekday(dayNumber: day)
        var out = Set<Int>()
        for e in expressions where e.matchesDay(year: y, month: m, day: d, weekday: weekday) {
            for h in e.sortedHours {
                for minute in e.sortedMinutes {
                    let wall = day * 86_400 + h * 3_600 + minute * 60
                    let instants = resolve(wall: wall)
                    if instants.isEmpty { continue }
                    if e.hourIsWildcard { out.formUnion(instants) } else { out.insert(instants[0]) }
                }
            }
        }
        return out.sorted()
    }

    private func offset(_ t: Int) -> Int { timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))) }

    /// The instants at which the local wall clock shows `wall` (seconds since 1970 read as UTC): one
    /// normally, two in a fall-back overlap (earlier first), and for a time in a spring-forward gap the
    /// instant the gap ends.
    func resolve(wall: Int) -> [Int] {
        let offsets = Set([offset(wall - 86_400), offset(wall), offset(wall + 86_400)])
        let valid = Set(offsets.map { wall - $0 }.filter { offsetsMatch($0, wall) }).sorted()
        if !valid.isEmpty { return valid }
        // In a gap: the transition lies between the instant read with the larger offset and the one
        // read with the smaller; find it to the second.
        guard let big = offsets.max(), let small = offsets.min(), big != small else { return [] }
        var lo = wall - big, hi = wall - small
        let before = offset(lo)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if offset(mid) == before { lo = mid } else { hi = mid }
        }
        return [hi]
    }

    private func offsetsMatch(_ instant: Int, _ wall: Int) -> Bool { instant + offset(instant) == wall }

    // MARK: - Civil dates (KuraCore's GregorianCalendar; these names stay for callers such as the runner)

    static func floorDiv(_ a: Int, _ b: Int) -> Int { GregorianCalendar.floorDivide(a, b) }
    static func floorMod(_ a: Int, _ b: Int) -> Int { GregorianCalendar.floorModulo(a, b) }
}

/// Whether a source is due in a `kura run --due`.
public enum DueCheck {
    /// The slot to run for, when the source is due: the newest scheduled time at or before `now` that
    /// is later than the last run (or the last slot handled). Several missed slots give one run.
    /// A source that never ran is due at once (its first backup should not wait for the schedule).
    /// A source without a schedule is never due (it runs only when named).
    public static func dueSlot(schedule: Schedule, lastSlot: Date?, lastStarted: Date?, now: Date) -> Date? {
        guard !schedule.expressions.isEmpty else { return nil }
        let since = [lastSlot, lastStarted].compactMap { $0 }.max()
        guard let since else { return schedule.previous(atOrBefore: now) ?? now }
        guard let slot = schedule.previous(atOrBefore: now), slot > since else { return nil }
        return slot
    }
}
