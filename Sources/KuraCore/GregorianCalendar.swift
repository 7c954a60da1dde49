/// Proleptic Gregorian date arithmetic on day numbers (days since 1970-01-01), with no time zones and
/// no Foundation: the one copy that retention (`KuraMaintenance`'s `RetentionClock`, Go's rules) and
/// schedules (`KuraOperations`'s cron `Schedule`) both count days with. Exact for any `Int` day number
/// whose year fits in an `Int` (Howard Hinnant's `days_from_civil` / `civil_from_days`).
public enum GregorianCalendar {
    /// `a / b` rounded towards minus infinity (Swift's `/` rounds towards zero). `b` must not be 0.
    @inlinable
    public static func floorDivide(_ a: Int, _ b: Int) -> Int {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// The remainder that goes with ``floorDivide(_:_:)``: it has the sign of `b` (in 0..<b for b > 0).
    @inlinable
    public static func floorModulo(_ a: Int, _ b: Int) -> Int { a - floorDivide(a, b) * b }

    /// The day number of a date (month 1...12; any day, so day 0 or 32 roll into the next month).
    public static func dayNumber(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day number.
    public static func date(dayNumber: Int) -> (year: Int, month: Int, day: Int) {
        let z = dayNumber + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The day number of the local date at `seconds` since 1970, read on a wall clock `offset` seconds
    /// east of UTC.
    public static func dayNumber(seconds: Int, offset: Int) -> Int { floorDivide(seconds + offset, 86_400) }

    /// The weekday, as cron counts it: 0 Sunday, 1 Monday … 6 Saturday.
    public static func weekday(dayNumber: Int) -> Int { floorModulo(dayNumber + 4, 7) }  // 1970-01-01 was a Thursday

    /// The ISO 8601 year and week (1...53) of a day (weeks start on Monday; week 1 holds the year's first
    /// Thursday), as Go's `Time.ISOWeek`.
    public static func isoWeek(dayNumber: Int) -> (year: Int, week: Int) {
        let daysSinceMonday = floorModulo(dayNumber + 3, 7)
        let thursday = dayNumber - daysSinceMonday + 3
        let year = date(dayNumber: thursday).year
        let dayOfYear = thursday - self.dayNumber(year: year, month: 1, day: 1)
        return (year, dayOfYear / 7 + 1)
    }
}
