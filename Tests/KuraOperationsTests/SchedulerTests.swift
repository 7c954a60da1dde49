import Foundation
import KuraCore
import KuraOperations
import Testing
import KuraTestSupport

@Suite("scheduler")
struct SchedulerTests {
    let berlin = TimeZone(identifier: "Europe/Berlin")!

    func schedule(_ exprs: String..., zone: TimeZone? = nil) throws -> Schedule {
        Schedule(try exprs.map { try CronExpression($0) }, timeZone: zone ?? berlin)
    }

    @Test("the calendar cron counts days with agrees with Foundation's Gregorian calendar (1600–2400, negative day numbers too)")
    func gregorianDays() {
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = TimeZone(identifier: "UTC")!
        let first = GregorianCalendar.dayNumber(year: 1600, month: 1, day: 1)
        let last = GregorianCalendar.dayNumber(year: 2400, month: 12, day: 31)
        #expect(first < 0 && GregorianCalendar.dayNumber(year: 1970, month: 1, day: 1) == 0)
        for day in stride(from: first, through: last, by: 5) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400 + 43_200)
            let parts = gregorian.dateComponents([.year, .month, .day, .weekday], from: date)
            let ours = GregorianCalendar.date(dayNumber: day)
            guard ours.year == parts.year, ours.month == parts.month, ours.day == parts.day,
                  GregorianCalendar.weekday(dayNumber: day) == parts.weekday! - 1,  // Foundation: 1 Sunday; cron: 0 Sunday
                  GregorianCalendar.dayNumber(seconds: day * 86_400 + 43_200, offset: 0) == day,
                  GregorianCalendar.dayNumber(seconds: day * 86_400, offset: -1) == day - 1 else {
                Issue.record("day \(day): \(ours) weekday \(GregorianCalendar.weekday(dayNumber: day)) vs \(parts)")
                return
            }
        }
        #expect(GregorianCalendar.floorDivide(-1, 86_400) == -1 && GregorianCalendar.floorModulo(-1, 7) == 6)
        #expect(GregorianCalendar.floorDivide(7, -2) == -4 && GregorianCalendar.floorModulo(7, -2) == -1)
    }

    @Test func cronSyntax() throws {
        let e = try CronExpression("*/15 9-17 1,15 jan-mar mon-fri")
        #expect(e.minutes == [0, 15, 30, 45] && e.hours == Set(9...17) && e.daysOfMonth == [1, 15])
        #expect(e.months == [1, 2, 3] && e.daysOfWeek == Set(1...5))
        #expect(try CronExpression("0 0 * * 7").daysOfWeek == [0])
        #expect(try CronExpression("@daily").hours == [0])
        #expect(try CronExpression("5/20 * * * *").minutes == [5, 25, 45])
        for bad in ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "@often", "a * * * *"] {
            #expect(throws: CronExpression.ParseError.self, "\(bad)") { try CronExpression(bad) }
        }
    }

    @Test func nextAndPrevious() throws {
        let s = try schedule("0 17 * * *")
        let noon = local("Europe/Berlin", 2026, 11, 29, 12, 0)
        #expect(s.next(after: noon) == local("Europe/Berlin", 2026, 11, 29, 17, 0))
        #expect(s.previous(atOrBefore: noon) == local("Europe/Berlin", 2026, 11, 28, 17, 0))
        let five = local("Europe/Berlin", 2026, 11, 29, 17, 0)
        #expect(s.previous(atOrBefore: five) == five, "at the minute itself it counts")
        #expect(s.next(after: five) == local("Europe/Berlin", 2026, 11, 30, 17, 0))
        // Day-of-month OR day-of-week when both are restricted (Vixie cron).
        let either = try schedule("0 0 13 * fri")
        #expect(either.next(after: local("Europe/Berlin", 2026, 11, 1)) == local("Europe/Berlin", 2026, 11, 6), "Friday the 6th")
        #expect(either.next(after: local("Europe/Berlin", 2026, 11, 12, 1)) == local("Europe/Berlin", 2026, 11, 13), "the 13th")
        // Rare dates are found (29 February, next in 2028).
        #expect(try schedule("0 12 29 2 *").next(after: local("Europe/Berlin", 2026, 3, 1)) == local("Europe/Berlin", 2028, 2, 29, 12))
    }

    @Test func dueNotDueAndMissedRuns() throws {
        let s = try schedule("0 17 * * *")
        let day = local("Europe/Berlin", 2026, 11, 29, 16, 59)
        // Never ran: due at once.
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: nil, lastStarted: nil, now: day) != nil)
        // Ran yesterday at 17:00: not due before 17:00, due from 17:00 on.
        let yesterday = local("Europe/Berlin", 2026, 11, 28, 17, 0)
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: yesterday, lastStarted: yesterday, now: day) == nil)
        let slot = local("Europe/Berlin", 2026, 11, 29, 17, 0)
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: yesterday, lastStarted: yesterday, now: slot) == slot)
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: yesterday, lastStarted: yesterday, now: slot.addingTimeInterval(59)) == slot)
        // Handled: not due again the same day.
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: slot, lastStarted: slot.addingTimeInterval(1), now: slot.addingTimeInterval(3600)) == nil)
        // A manual run after the slot covers it.
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: yesterday, lastStarted: slot.addingTimeInterval(60), now: slot.addingTimeInterval(120)) == nil)
        // Machine off for three days: one run, for the newest missed slot.
        let back = local("Europe/Berlin", 2026, 12, 2, 9, 0)
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: yesterday, lastStarted: yesterday, now: back) == local("Europe/Berlin", 2026, 12, 1, 17, 0))
        // No schedule: never due.
        #expect(DueCheck.dueSlot(schedule: Schedule([], timeZone: berlin), lastSlot: nil, lastStarted: nil, now: back) == nil)
    }

    @Test func springForwardInBerlinRunsOnceAtThree() throws {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
        let s = try schedule("30 2 * * *")
        let before = local("Europe/Berlin", 2026, 3, 28, 12, 0)
        let first = try #require(s.next(after: before))
        #expect(first == utc(2026, 3, 29, 1, 0), "03:00 CEST = 01:00 UTC, got \(first)")
        #expect(s.next(after: first) == utc(2026, 3, 30, 0, 30), "02:30 CEST the next day")
        // Every time in the gap collapses into one run at 03:00.
        let many = try schedule("*/15 2 * * *")
        let inGap = try #require(many.next(after: utc(2026, 3, 28, 23, 0)))
        #expect(inGap == utc(2026, 3, 29, 1, 0))
        #expect(many.next(after: inGap) == utc(2026, 3, 30, 0, 0))
        // --due across the change: a 02:30 job last run on the 28th is due once at 03:00 on the 29th.
        let last = utc(2026, 3, 28, 1, 30)  // 02:30 CET
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: last, lastStarted: last, now: utc(2026, 3, 29, 0, 59)) == nil)
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: last, lastStarted: last, now: utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 1, 0))
        // Other jobs are unaffected: 17:00 is 15:00 UTC after the change.
        #expect(try schedule("0 17 * * *").next(after: utc(2026, 3, 29, 2, 0)) == utc(2026, 3, 29, 15, 0))
    }

    @Test func fallBackInBerlinRunsOnce() throws {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice (00:30 and 01:30 UTC).
        let s = try schedule("30 2 * * *")
        let first = try #require(s.next(after: utc(2026, 10, 24, 12, 0)))
        #expect(first == utc(2026, 10, 25, 0, 30), "the first 02:30 (CEST)")
        #expect(s.next(after: first) == utc(2026, 10, 26, 1, 30), "not again at 02:30 CET; next day 02:30 CET")
        #expect(DueCheck.dueSlot(schedule: s, lastSlot: first, lastStarted: first, now: utc(2026, 10, 25, 1, 45)) == nil, "the second 02:30 is not a new slot")
        // An interval job (hour *) keeps its interval through the repeated hour.
        let every30 = try schedule("*/30 * * * *")
        var t = utc(2026, 10, 24, 23, 50)
        var fired: [Date] = []
        for _ in 0..<6 { t = try #require(every30.next(after: t)); fired.append(t) }
        #expect(fired == [utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 30),
                          utc(2026, 10, 25, 2, 0), utc(2026, 10, 25, 2, 30)])
    }

    @Test func otherZones() throws {
        let ny = TimeZone(identifier: "America/New_York")!
        let s = try schedule("0 9 * * mon", zone: ny)
        #expect(s.next(after: utc(2026, 11, 29, 0, 0)) == utc(2026, 11, 30, 14, 0))
        let u = try schedule("0 0 1 * *", zone: TimeZone(identifier: "UTC")!)
        #expect(u.previous(atOrBefore: utc(2026, 11, 29)) == utc(2026, 11, 1))
    }
}
