import Foundation
import KuraCore

/// Civil-time arithmetic exactly as Go's `time` package does it, which is what restic's policy code runs on:
/// proleptic Gregorian dates, ISO weeks, `AddDate` with overflow normalisation, and Go's rule for wall
/// clock times that fall into a daylight-saving gap or overlap. Foundation's `Calendar` differs in the last
/// two (it clamps 31 March − 1 month to 29 February), so only its time zone is used. Day numbers and
/// dates are KuraCore's ``GregorianCalendar`` (the one schedules use too).
enum RetentionClock {
    /// The location a snapshot time carries, as Go holds it after parsing the snapshot's JSON.
    enum Zone: Sendable {
        /// A time zone with rules (Go's `Local`).
        case named(TimeZone)
        /// A fixed offset east of UTC, in seconds (Go's `FixedZone`, or `UTC` for 0).
        case fixed(Int)

        /// The offset east of UTC in effect at `seconds` since 1970.
        func offset(at seconds: Int) -> Int {
            switch self {
            case .named(let zone): return zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds)))
            case .fixed(let offset): return offset
            }
        }
    }

    /// A broken-down wall clock time.
    struct Civil: Sendable {
        /// Days since 1970-01-01 of the local date.
        var dayNumber: Int
        var year: Int
        var month: Int
        var day: Int
        var hour: Int
        /// Seconds since local midnight (whole seconds).
        var secondOfDay: Int
        /// The sub-second part of the instant, in [0, 1).
        var fraction: Double
    }

    /// Go's zero `time.Time` (0001-01-01 00:00:00 UTC): restic's reference time when every snapshot is in the future.
    static let goZeroTime = Date(timeIntervalSince1970: -62_135_596_800)

    /// Instants are limited to about ±3 million years so that all arithmetic stays far from `Int` overflow.
    private static let secondsLimit = 1e14

    /// Whole seconds since 1970 (rounded down) and the fraction, of `date` clamped to the supported range.
    static func split(_ date: Date) -> (seconds: Int, fraction: Double) {
        var interval = date.timeIntervalSince1970
        if !interval.isFinite { interval = interval > 0 ? secondsLimit : -secondsLimit }
        interval = min(max(interval, -secondsLimit), secondsLimit)
        let whole = interval.rounded(.down)
        return (Int(whole), interval - whole)
    }

    /// The wall clock of `date` in `zone`.
    static func civil(_ date: Date, in zone: Zone) -> Civil {
        let (seconds, fraction) = split(date)
        let local = seconds + zone.offset(at: seconds)
        let dayNumber = GregorianCalendar.dayNumber(seconds: local, offset: 0)
        let secondOfDay = local - dayNumber * 86_400
        let (year, month, day) = GregorianCalendar.date(dayNumber: dayNumber)
        return Civil(dayNumber: dayNumber, year: year, month: month, day: day, hour: secondOfDay / 3_600,
                     secondOfDay: secondOfDay, fraction: fraction)
    }

    /// Go's `Time.ISOWeek`: the ISO 8601 year and week (1...53) of a date, weeks starting on Monday.
    static func isoWeek(dayNumber: Int) -> (year: Int, week: Int) { GregorianCalendar.isoWeek(dayNumber: dayNumber) }

    /// Go's `t.AddDate(years, months, days)` for a `t` in `zone`: the wall clock date is shifted, overflowing
    /// months and days roll over (no clamping), the clock time is kept, and the result is resolved to an instant
    /// with Go's `time.Date` rule. Arguments must be bounded (see ``RetentionPolicy``'s threshold computation).
    static func addDate(_ date: Date, in zone: Zone, years: Int, months: Int, days: Int) -> Date {
        let start = civil(date, in: zone)
        let monthIndex = start.month - 1 + months
        let year = start.year + years + GregorianCalendar.floorDivide(monthIndex, 12)
        let month = GregorianCalendar.floorModulo(monthIndex, 12) + 1
        let dayNumber = GregorianCalendar.dayNumber(year: year, month: month, day: 1) + start.day - 1 + days
        let wall = dayNumber * 86_400 + start.secondOfDay
        return Date(timeIntervalSince1970: Double(resolve(wall: wall, in: zone)) + start.fraction)
    }

    /// Go's `time.Date` resolution of a wall clock (seconds since 1970 as if it were UTC) to an instant:
    /// take the offset in effect at the wall clock read as UTC, then the offset in effect at the instant that
    /// gives. Times in a spring-forward gap move forward by the gap; times in a fall-back overlap get the
    /// later (standard time) instant.
    static func resolve(wall: Int, in zone: Zone) -> Int {
        let guess = zone.offset(at: wall)
        return wall - zone.offset(at: wall - guess)
    }
}
