import Foundation
@testable import KuraMaintenance
import Testing
import KuraCore

/// Berlin has daylight saving time: 2021-03-28 02:00 CET → 03:00 CEST, 2021-10-31 03:00 CEST → 02:00 CET.
private let berlinZone = TimeZone(identifier: "Europe/Berlin")!
private let berlin: Calendar = {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = berlinZone
    return calendar
}()
private let utcCalendar: Calendar = {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar
}()

/// An instant given as UTC wall clock.
private func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Date {
    utcCalendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
}

/// An instant given as Berlin wall clock (only for unambiguous times).
private func local(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 12, _ minute: Int = 0, _ second: Int = 0) -> Date {
    berlin.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
}

/// Candidates named s0, s1, … in the given order.
private func candidates(_ times: [Date], tags: [[String]] = []) -> [RetentionCandidate] {
    times.enumerated().map { index, time in
        RetentionCandidate(id: "s\(index)", time: time, tags: index < tags.count ? tags[index] : [])
    }
}

/// The ids kept, newest first.
private func keptIDs(_ policy: RetentionPolicy, _ snapshots: [RetentionCandidate], calendar: Calendar = berlin,
                     now: Date = utc(2030, 1, 1), compatibility: ResticCompatibility = .latest) -> [String] {
    applyRetention(policy, to: snapshots, calendar: calendar, now: now, compatibility: compatibility).kept.map(\.id)
}

@Suite("RetentionPolicy: durations")
struct RetentionDurationTests {
    @Test("restic's duration format parses", arguments: [
        ("14d", RetentionDuration(days: 14)),
        ("1y6m", RetentionDuration(years: 1, months: 6)),
        ("2d12h", RetentionDuration(days: 2, hours: 12)),
        ("1y2m3d4h", RetentionDuration(years: 1, months: 2, days: 3, hours: 4)),
        ("4h1y", RetentionDuration(years: 1, hours: 4)),
        ("  7d\n", RetentionDuration(days: 7)),
        ("1d2d", RetentionDuration(days: 2)),  // a repeated unit replaces the earlier one, as in restic
        ("0d", RetentionDuration()),
        ("", RetentionDuration()),
        ("-1d", RetentionDuration(days: -1)),  // restic's parser accepts a sign; 0.16+ forget then refuses it
        ("007m", RetentionDuration(months: 7)),
    ])
    func parses(text: String, expected: RetentionDuration) throws {
        #expect(try RetentionPolicy.parseDuration(text) == expected)
    }

    @Test("malformed durations throw clear errors")
    func errors() {
        #expect(throws: RetentionDurationError.invalidUnit(input: "2w", unit: "w", number: 2)) {
            try RetentionPolicy.parseDuration("2w")
        }
        #expect(throws: RetentionDurationError.missingNumber(input: "d", remainder: "d")) { try RetentionPolicy.parseDuration("d") }
        #expect(throws: RetentionDurationError.missingUnit(input: "14", number: 14)) {
            try RetentionPolicy.parseDuration("14")
        }
        #expect(throws: RetentionDurationError.missingNumber(input: "1d 2h", remainder: " 2h")) { try RetentionPolicy.parseDuration("1d 2h") }
        #expect(throws: RetentionDurationError.missingNumber(input: "+5d", remainder: "+5d")) { try RetentionPolicy.parseDuration("+5d") }
        #expect(throws: RetentionDurationError.missingNumber(input: "5d-", remainder: "-")) { try RetentionPolicy.parseDuration("5d-") }
        #expect(throws: RetentionDurationError.invalidUnit(input: "1.5d", unit: ".", number: 1)) {
            try RetentionPolicy.parseDuration("1.5d")
        }
        #expect(throws: RetentionDurationError.invalidUnit(input: "3D", unit: "D", number: 3)) {
            try RetentionPolicy.parseDuration("3D")
        }
        #expect(throws: RetentionDurationError.missingNumber(input: "10min", remainder: "in")) {
            try RetentionPolicy.parseDuration("10min")  // "10m" is ten months; restic has no minutes
        }
        #expect(throws: RetentionDurationError.numberOutOfRange(input: "99999999999999999999d", digits: "99999999999999999999")) {
            try RetentionPolicy.parseDuration("99999999999999999999d")
        }
        let message = RetentionDurationError.invalidUnit(input: "2w", unit: "w", number: 2).description
        #expect(message.contains("\"2w\"") && message.contains("7d") && message.contains("y (years)"))
    }

    @Test("description is restic's canonical spelling and round-trips through Codable")
    func descriptionAndCodable() throws {
        #expect(RetentionDuration(years: 1, months: 2, days: 3, hours: 4).description == "1y2m3d4h")
        #expect(try RetentionPolicy.parseDuration("14d0y").description == "14d")
        #expect(RetentionDuration().description == "")
        let policy = RetentionPolicy(daily: 7, yearly: RetentionPolicy.unlimited, within: RetentionDuration(days: 14),
                                     withinWeekly: RetentionDuration(months: 2), tags: [["a", "b"], [""]])
        let data = try JSONEncoder().encode(policy)
        #expect(String(decoding: data, as: UTF8.self).contains("\"14d\""))
        #expect(try JSONDecoder().decode(RetentionPolicy.self, from: data) == policy)
        let sparse = try JSONDecoder().decode(RetentionPolicy.self, from: Data(#"{"daily": 3, "within": "1y"}"#.utf8))
        #expect(sparse == RetentionPolicy(daily: 3, within: RetentionDuration(years: 1)))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(RetentionPolicy.self, from: Data(#"{"within": "1w"}"#.utf8))
        }
    }
}

@Suite("RetentionPolicy: rules")
struct RetentionRuleTests {
    @Test("isEmpty and validate follow restic")
    func emptiness() throws {
        #expect(RetentionPolicy().isEmpty)
        #expect(RetentionPolicy(within: RetentionDuration(), withinDaily: .zero).isEmpty)
        #expect(!RetentionPolicy(daily: RetentionPolicy.unlimited).isEmpty)
        #expect(!RetentionPolicy(within: RetentionDuration(days: -1)).isEmpty)
        #expect(!RetentionPolicy(tags: [[]]).isEmpty)
        try RetentionPolicy(last: -1, daily: 3, within: RetentionDuration(days: 1)).validate()
        #expect(throws: RetentionPolicyError.invalidCount(rule: "keep-weekly", value: -2)) {
            try RetentionPolicy(weekly: -2).validate()
        }
        #expect(throws: RetentionPolicyError.negativeDuration(rule: "keep-within-daily", duration: RetentionDuration(days: 3, hours: -1))) {
            try RetentionPolicy(withinDaily: RetentionDuration(days: 3, hours: -1)).validate()
        }
        #expect(RetentionPolicy.parseTagList(" a , b,") == ["a", "b", ""])
        #expect(RetentionPolicy.parseTagList("") == [""])
    }

    @Test("policy description matches restic's 'Applying Policy' text")
    func policyDescription() {
        #expect(RetentionPolicy().description == "remove")
        #expect(RetentionPolicy(daily: 7, weekly: 4, yearly: -1).description == "keep 7 daily, 4 weekly, all yearly snapshots")
        #expect(RetentionPolicy(last: 2, within: RetentionDuration(days: 14), withinDaily: RetentionDuration(days: 7),
                                tags: [["a", "b"], ["c"]]).description
                == "keep 2 latest snapshots, daily snapshots within 7d and all snapshots with tags [[a, b] [c]] and all snapshots within 14d of the newest")
    }

    @Test("an empty policy keeps everything up to restic 0.16 and nothing from 0.17")
    func emptyPolicy() {
        let snapshots = candidates([local(2024, 1, 2), local(2024, 1, 1)])
        let old = applyRetention(RetentionPolicy(), to: snapshots, calendar: berlin, compatibility: .v0_14)
        #expect(old.kept.map(\.id) == ["s0", "s1"] && old.keep.allSatisfy { $0.reasons == ["policy is empty"] })
        #expect(keptIDs(RetentionPolicy(), snapshots, compatibility: .v0_16) == ["s0", "s1"])
        #expect(keptIDs(RetentionPolicy(), snapshots, compatibility: .v0_17) == [])
        #expect(applyRetention(RetentionPolicy(), to: snapshots, calendar: berlin).remove.count == 2)
        #expect(applyRetention(RetentionPolicy(daily: 1), to: [], calendar: berlin) == RetentionDecision(keep: [], remove: []))
    }

    @Test("daily buckets split exactly at local midnight")
    func midnight() {
        let snapshots = candidates([local(2024, 5, 2, 0, 0, 0), local(2024, 5, 1, 23, 59, 59), local(2024, 5, 1, 0, 0, 0),
                                    local(2024, 4, 30, 23, 59, 59)])
        #expect(keptIDs(RetentionPolicy(daily: 10), snapshots) == ["s0", "s1", "s3"])
        #expect(keptIDs(RetentionPolicy(daily: 10), snapshots, compatibility: .v0_14) == ["s0", "s1", "s3"])
        #expect(keptIDs(RetentionPolicy(monthly: 10), snapshots) == ["s0", "s3"])
        #expect(keptIDs(RetentionPolicy(daily: 2), snapshots) == ["s0", "s1"])
        // 2024-05-01 23:30 UTC is already 2 May in Berlin, so it shares s0's day there but not in UTC.
        let shifted = candidates([local(2024, 5, 2, 3, 0, 0), utc(2024, 5, 1, 23, 30)])
        #expect(keptIDs(RetentionPolicy(daily: 1, yearly: 0), shifted) == ["s0"])
        #expect(keptIDs(RetentionPolicy(daily: 2), shifted, calendar: utcCalendar) == ["s0", "s1"])
        #expect(keptIDs(RetentionPolicy(daily: 2), shifted) == ["s0", "s1"])  // s1 kept as "oldest daily snapshot"
        #expect(keptIDs(RetentionPolicy(daily: 2), shifted, compatibility: .v0_14) == ["s0"])
    }

    @Test("hourly buckets at daylight-saving changes use the wall clock hour")
    func daylightSaving() {
        // Fall back: 02:10 CEST (00:10 UTC) and 02:50 CET (01:50 UTC) are 1 h 40 min apart but both wall hour 2.
        let fallBack = candidates([utc(2021, 10, 31, 1, 50), utc(2021, 10, 31, 0, 10), utc(2021, 10, 30, 23, 59)])
        let decision = applyRetention(RetentionPolicy(hourly: 3), to: fallBack, calendar: berlin,
                                      compatibility: .v0_14)
        #expect(decision.kept.map(\.id) == ["s0", "s2"])
        // Spring forward: 01:59:59 CET and 03:00:00 CEST are one second apart but different hours.
        let springForward = candidates([utc(2021, 3, 28, 1, 0, 0), utc(2021, 3, 28, 0, 59, 59)])
        #expect(keptIDs(RetentionPolicy(hourly: 2), springForward, compatibility: .v0_14) == ["s0", "s1"])
        #expect(keptIDs(RetentionPolicy(hourly: 1), springForward) == ["s0"])
    }

    @Test("weekly buckets are ISO weeks, including week 53 and weeks owned by the other year")
    func isoWeeks() {
        // 2020 has an ISO week 53: Monday 28 Dec 2020 to Sunday 3 Jan 2021.
        let week53 = candidates([local(2021, 1, 4, 0, 30), local(2021, 1, 3, 23, 30), local(2021, 1, 1, 0, 0),
                                 local(2020, 12, 31, 23, 59, 59), local(2020, 12, 28, 0, 0), local(2020, 12, 27, 23, 59)])
        #expect(keptIDs(RetentionPolicy(weekly: 3), week53) == ["s0", "s1", "s5"])
        #expect(keptIDs(RetentionPolicy(weekly: 2), week53) == ["s0", "s1"])
        #expect(keptIDs(RetentionPolicy(yearly: 5), week53, compatibility: .v0_14) == ["s0", "s3"])
        // Sunday 1 Jan 2023 belongs to 2022-W52; Tuesday 31 Dec 2024 to 2025-W01.
        let boundaries = candidates([local(2025, 1, 5), local(2024, 12, 31), local(2024, 12, 29),
                                     local(2023, 1, 2), local(2023, 1, 1), local(2022, 12, 26, 0, 0)])
        #expect(keptIDs(RetentionPolicy(weekly: 10), boundaries, compatibility: .v0_14) == ["s0", "s2", "s3", "s4"])
        #expect(keptIDs(RetentionPolicy(weekly: 10), boundaries) == ["s0", "s2", "s3", "s4", "s5"])
    }

    @Test("unlimited counts keep every period from restic 0.16; restic 0.14 ignores -1")
    func unlimited() {
        let snapshots = candidates([local(2024, 3, 5), local(2024, 3, 1), local(2024, 2, 10), local(2023, 12, 31),
                                    local(2023, 12, 1)])
        let monthly = RetentionPolicy(monthly: RetentionPolicy.unlimited)
        let decision = applyRetention(monthly, to: snapshots, calendar: berlin)
        #expect(decision.kept.map(\.id) == ["s0", "s2", "s3", "s4"])
        #expect(decision.keep.last?.reasons == ["oldest monthly snapshot"])
        #expect(keptIDs(monthly, snapshots, compatibility: .v0_14) == [])
        #expect(keptIDs(RetentionPolicy(last: -1), snapshots).count == 5)
    }

    @Test("the oldest snapshot is kept while a rule has counts left (0.16+), marked 'oldest' from 0.18")
    func oldest() {
        let snapshots = candidates([local(2024, 6, 1, 12), local(2024, 6, 1, 10), local(2024, 6, 1, 8)])
        let policy = RetentionPolicy(daily: 5)
        let current = applyRetention(policy, to: snapshots, calendar: berlin)
        #expect(current.keep.map(\.reasons) == [["daily snapshot"], ["oldest daily snapshot"]])
        #expect(current.remove.map(\.id) == ["s1"])
        let v16 = applyRetention(policy, to: snapshots, calendar: berlin, compatibility: .v0_16)
        #expect(v16.keep.map(\.reasons) == [["daily snapshot"], ["daily snapshot"]])
        #expect(keptIDs(policy, snapshots, compatibility: .v0_14) == ["s0"])
        // No counts left: no extra snapshot.
        #expect(keptIDs(RetentionPolicy(daily: 1), snapshots) == ["s0"])
        // A new period at the end is an ordinary keep, not "oldest".
        let twoDays = candidates([local(2024, 6, 2), local(2024, 6, 1)])
        #expect(applyRetention(policy, to: twoDays, calendar: berlin).keep.map(\.reasons) == [["daily snapshot"], ["daily snapshot"]])
        // keep-within-* rules also take the oldest snapshot when it is within their range.
        let within = applyRetention(RetentionPolicy(withinDaily: RetentionDuration(days: 3)), to: snapshots, calendar: berlin)
        #expect(within.keep.map(\.reasons) == [["daily within 3d"], ["oldest daily within 3d"]])
    }

    @Test("keep-within is measured from the newest past snapshot, with Go's calendar arithmetic")
    func within() {
        // Relative to the newest snapshot, not to now.
        let old = candidates([utc(2001, 5, 10, 12), utc(2001, 5, 9, 13), utc(2001, 5, 9, 12), utc(2001, 5, 9, 11)])
        let oneDay = applyRetention(RetentionPolicy(within: RetentionDuration(days: 1)), to: old, calendar: utcCalendar,
                                    now: utc(2030, 1, 1))
        #expect(oneDay.kept.map(\.id) == ["s0", "s1"])  // strictly after the limit: s2 at exactly 24 h is removed
        #expect(oneDay.keep.first?.reasons == ["within 1d"])
        // 31 March 2024 minus one month is "31 February", i.e. 2 March (Go's AddDate), not 29 February.
        let monthEnd = candidates([local(2024, 3, 31, 10), local(2024, 3, 2, 10, 30), local(2024, 3, 2, 9, 30),
                                   local(2024, 3, 1, 12)])
        #expect(keptIDs(RetentionPolicy(within: RetentionDuration(months: 1)), monthEnd) == ["s0", "s1"])
        // Days are wall clock days: 1 Nov 2021 12:00 CET minus 2d is 30 Oct 12:00 CEST, 49 hours earlier.
        let dst = candidates([local(2021, 11, 1, 12), local(2021, 10, 30, 12, 30), local(2021, 10, 30, 11, 30)])
        #expect(keptIDs(RetentionPolicy(within: RetentionDuration(days: 2)), dst) == ["s0", "s1"])
        #expect(keptIDs(RetentionPolicy(within: RetentionDuration(hours: 48)), dst) == ["s0"])
        // A negative duration moves the limit after the newest snapshot (restic 0.14 accepts it).
        #expect(keptIDs(RetentionPolicy(within: RetentionDuration(days: -1)), dst) == [])
        // Absurdly large durations keep everything.
        #expect(keptIDs(RetentionPolicy(within: RetentionDuration(years: Int.max)), dst).count == 3)
        #expect(keptIDs(RetentionPolicy(within: RetentionDuration(years: Int.min)), dst).count == 0)
    }

    @Test("future snapshots do not move the within reference and are always within")
    func future() {
        let now = utc(2024, 6, 15)
        let snapshots = candidates([utc(2099, 1, 1), utc(2024, 6, 10), utc(2024, 6, 5), utc(2024, 5, 1)])
        let policy = RetentionPolicy(within: RetentionDuration(days: 7))
        #expect(keptIDs(policy, snapshots, now: now) == ["s0", "s1", "s2"])
        // Only future snapshots: the reference is Go's zero time, so all are within.
        let allFuture = candidates([utc(2099, 1, 1), utc(2098, 1, 1)])
        #expect(keptIDs(policy, allFuture, now: now) == ["s0", "s1"])
        // Future snapshots do count for the count rules.
        #expect(keptIDs(RetentionPolicy(last: 1), snapshots, now: now) == ["s0"])
    }

    @Test("keep-tag needs all tags of a list; lists are alternatives; '' matches untagged snapshots")
    func tags() {
        let snapshots = candidates([local(2024, 1, 5), local(2024, 1, 4), local(2024, 1, 3), local(2024, 1, 2)],
                                   tags: [["a", "b"], ["a"], [], ["b", "c"]])
        #expect(keptIDs(RetentionPolicy(tags: [["a", "b"]]), snapshots) == ["s0"])
        #expect(keptIDs(RetentionPolicy(tags: [["a"]]), snapshots) == ["s0", "s1"])
        #expect(keptIDs(RetentionPolicy(tags: [["a", "b"], ["c"]]), snapshots) == ["s0", "s3"])
        #expect(keptIDs(RetentionPolicy(tags: [[""]]), snapshots) == ["s2"])
        #expect(keptIDs(RetentionPolicy(tags: [["", "zzz"]]), snapshots) == ["s2"])  // restic's early return
        #expect(keptIDs(RetentionPolicy(tags: [[]]), snapshots).count == 4)
        let decision = applyRetention(RetentionPolicy(tags: [["a"], ["a", "b"]]), to: snapshots, calendar: berlin)
        #expect(decision.keep.first?.reasons == ["has tags [a]", "has tags [a, b]"])
    }

    @Test("every rule that keeps a snapshot is listed, in restic's order")
    func reasons() {
        let snapshots = candidates([local(2024, 1, 5), local(2024, 1, 4), local(2023, 12, 20)], tags: [["x"], [], []])
        let policy = RetentionPolicy(last: 1, hourly: 1, daily: 2, weekly: 1, monthly: 1, yearly: 2,
                                     within: RetentionDuration(days: 2), withinHourly: RetentionDuration(days: 1),
                                     withinDaily: RetentionDuration(days: 3), withinWeekly: RetentionDuration(months: 1),
                                     withinMonthly: RetentionDuration(years: 1), withinYearly: RetentionDuration(years: 2),
                                     tags: [["x"]])
        let decision = applyRetention(policy, to: snapshots, calendar: berlin, compatibility: .v0_14)
        #expect(decision.keep.map(\.reasons) == [
            ["has tags [x]", "within 2d", "last snapshot", "hourly snapshot", "daily snapshot", "weekly snapshot",
             "monthly snapshot", "yearly snapshot", "hourly within 1d", "daily within 3d", "weekly within 1m",
             "monthly within 1y", "yearly within 2y"],
            ["within 2d", "daily snapshot", "daily within 3d"],
            ["yearly snapshot", "weekly within 1m", "monthly within 1y", "yearly within 2y"],
        ])
    }

    @Test("equal times keep the caller's order, like restic's stable sort")
    func ties() {
        let time = local(2024, 1, 1)
        let snapshots = [RetentionCandidate(id: "b", time: time), RetentionCandidate(id: "a", time: time),
                         RetentionCandidate(id: "c", time: time.addingTimeInterval(1))]
        #expect(keptIDs(RetentionPolicy(last: 2), snapshots) == ["c", "b"])
        #expect(applyRetention(RetentionPolicy(last: 2), to: snapshots, calendar: berlin).remove.map(\.id) == ["a"])
    }

    @Test("a recorded UTC offset decides the wall clock, as restic's parsed snapshot times do")
    func recordedOffsets() {
        // 23:30 UTC on 15 Jan is 00:30 on 16 Jan in Berlin; recorded with "Z" restic buckets it on 15 Jan.
        let zulu = RetentionCandidate(id: "z", time: utc(2022, 1, 15, 23, 30), utcOffset: 0)
        let next = RetentionCandidate(id: "n", time: utc(2022, 1, 16, 11), utcOffset: 3600)
        #expect(keptIDs(RetentionPolicy(daily: 5), [next, zulu], compatibility: .v0_14) == ["n", "z"])
        var unknown = zulu
        unknown.utcOffset = nil
        #expect(keptIDs(RetentionPolicy(daily: 5), [next, unknown], compatibility: .v0_14) == ["n"])
        // New York time (-4 h) recorded: 15 Mar 22:30 there is 16 Mar 03:30 in Berlin.
        let newYork = RetentionCandidate(id: "ny", time: utc(2022, 3, 16, 2, 30), utcOffset: -4 * 3600)
        let berlinSameDay = RetentionCandidate(id: "b", time: utc(2022, 3, 16, 11), utcOffset: 3600)
        #expect(keptIDs(RetentionPolicy(daily: 5), [berlinSameDay, newYork], compatibility: .v0_14) == ["b", "ny"])
        // An offset equal to the local zone's is the local zone, DST rules included.
        let summer = RetentionCandidate(id: "s", time: local(2021, 10, 31, 10), utcOffset: 3600)
        let before = RetentionCandidate(id: "p", time: local(2021, 10, 29, 10, 30), utcOffset: 7200)
        #expect(keptIDs(RetentionPolicy(within: RetentionDuration(days: 2)), [summer, before]) == ["s", "p"])
    }

    @Test("the UTC offset is read from the end of an RFC 3339 timestamp")
    func timestampOffsets() {
        #expect(RetentionCandidate.utcOffset(ofTimestamp: "2021-10-31T02:50:00+01:00") == 3_600)
        #expect(RetentionCandidate.utcOffset(ofTimestamp: "2022-03-15T21:00:00.123456789-04:00") == -14_400)
        #expect(RetentionCandidate.utcOffset(ofTimestamp: "2020-01-01T00:00:00+05:45") == 20_700)
        #expect(RetentionCandidate.utcOffset(ofTimestamp: "2022-01-15T23:30:00Z") == 0)
        #expect(RetentionCandidate.utcOffset(ofTimestamp: "2022-01-15T23:30:00") == nil)
        #expect(RetentionCandidate.utcOffset(ofTimestamp: "2022-01-15") == nil)
        #expect(RetentionCandidate.utcOffset(ofTimestamp: "") == nil)
    }

    @Test("restic version strings map to compatibility levels")
    func versions() {
        #expect(ResticCompatibility(resticVersion: "restic 0.14.0 compiled with go1.19.8 on linux/amd64") == .v0_14)
        #expect(ResticCompatibility(resticVersion: "0.12.1") == .v0_14)
        #expect(ResticCompatibility(resticVersion: "0.15.2") == .v0_14)
        #expect(ResticCompatibility(resticVersion: "restic 0.16.4 compiled with go1.21") == .v0_16)
        #expect(ResticCompatibility(resticVersion: "0.17.3") == .v0_17)
        #expect(ResticCompatibility(resticVersion: "restic 0.18.0 (v0.18.0-0-gabc)") == .v0_18)
        #expect(ResticCompatibility(resticVersion: "v1.0.0") == .v0_18)
        #expect(ResticCompatibility(resticVersion: "0.12.0") == nil)
        #expect(ResticCompatibility(resticVersion: "restic") == nil)
    }

    @Test("civil date and ISO week arithmetic agree with Foundation's ISO 8601 calendar (1600–2400)")
    func calendarArithmetic() {
        var iso = Calendar(identifier: .iso8601)
        iso.timeZone = TimeZone(identifier: "UTC")!
        let first = GregorianCalendar.dayNumber(year: 1600, month: 1, day: 1)
        let last = GregorianCalendar.dayNumber(year: 2400, month: 12, day: 31)
        for day in stride(from: first, through: last, by: 3) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400 + 43_200)
            let parts = iso.dateComponents([.year, .month, .day, .yearForWeekOfYear, .weekOfYear], from: date)
            let civil = RetentionClock.civil(date, in: .fixed(0))
            let week = RetentionClock.isoWeek(dayNumber: day)
            guard civil.year == parts.year, civil.month == parts.month, civil.day == parts.day,
                  week.year == parts.yearForWeekOfYear, week.week == parts.weekOfYear,
                  GregorianCalendar.dayNumber(year: civil.year, month: civil.month, day: civil.day) == day else {
                Issue.record("day \(day): \(civil) \(week) vs \(parts)")
                return
            }
        }
    }

    @Test("wall clock times in a DST gap or overlap resolve as Go's time.Date does")
    func goTimeResolution() {
        let zone = RetentionClock.Zone.named(berlinZone)
        func wall(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ mi: Int) -> Int {
            GregorianCalendar.dayNumber(year: y, month: m, day: d) * 86_400 + h * 3_600 + mi * 60
        }
        // restic --time "2023-03-26 02:30:00" (in the gap) records 03:30+02:00, i.e. 01:30 UTC.
        #expect(RetentionClock.resolve(wall: wall(2023, 3, 26, 2, 30), in: zone) == Int(utc(2023, 3, 26, 1, 30).timeIntervalSince1970))
        // restic --time "2023-10-29 02:30:00" (twice that night) records 02:30+01:00, the later one.
        #expect(RetentionClock.resolve(wall: wall(2023, 10, 29, 2, 30), in: zone) == Int(utc(2023, 10, 29, 1, 30).timeIntervalSince1970))
        // AddDate keeps the wall clock and rolls over: 31 Jan + 1 month = 3 March (2023), 2 March (2024).
        let jan31 = local(2023, 1, 31, 10)
        #expect(RetentionClock.addDate(jan31, in: zone, years: 0, months: 1, days: 0) == local(2023, 3, 3, 10))
        #expect(RetentionClock.addDate(local(2024, 1, 31, 10), in: zone, years: 0, months: 1, days: 0) == local(2024, 3, 2, 10))
        #expect(RetentionClock.addDate(local(2024, 2, 29, 10), in: zone, years: -1, months: 0, days: 0) == local(2023, 3, 1, 10))
        #expect(RetentionClock.addDate(jan31, in: zone, years: 0, months: -13, days: -31) == local(2021, 11, 30, 10))
    }
}
