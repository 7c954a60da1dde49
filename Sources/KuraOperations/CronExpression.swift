import Foundation

/// A cron schedule: `minute hour day-of-month month day-of-week`, as in crontab(5).
///
/// Each field is `*`, a number, a range `a-b`, a step `*/n` / `a-b/n` / `a/n`, or a comma list of
/// these; months and week days may be named (`jan`, `sun`); 0 and 7 are both Sunday. The macros
/// `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`) are accepted.
/// As in Vixie cron, when both day-of-month and day-of-week are restricted, a day matches if either does.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    public let daysOfWeek: Set<Int>
    let domRestricted: Bool
    let dowRestricted: Bool
    /// True when the hour field is `*` or `*/n`: an interval job, which in a repeated (fall-back) hour
    /// fires in both passes; other jobs fire once, at the first pass.
    public let hourIsWildcard: Bool
    let sortedMinutes: [Int]
    let sortedHours: [Int]

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var description: String { text }

    static let macros = ["@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
                         "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(_ text: String) throws {
        self.text = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = CronExpression.macros[trimmed.lowercased()] ?? trimmed
        if expanded.hasPrefix("@") { throw ParseError(description: "unknown cron macro \"\(trimmed)\" (known: @hourly, @daily, @weekly, @monthly, @yearly)") }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(description: "the schedule \"\(text)\" has \(fields.count) fields, cron needs 5 (minute hour day-of-month month day-of-week)")
        }
        minutes = try CronExpression.field(fields[0], "minute", 0...59, names: [])
        hours = try CronExpression.field(fields[1], "hour", 0...23, names: [])
        daysOfMonth = try CronExpression.field(fields[2], "day-of-month", 1...31, names: [])
        months = try CronExpression.field(fields[3], "month", 1...12, names: CronExpression.monthNames, nameBase: 1)
        var dow = try CronExpression.field(fields[4], "day-of-week", 0...7, names: CronExpression.dayNames)
        if dow.remove(7) != nil { dow.insert(0) }
        daysOfWeek = dow
        domRestricted = !fields[2].hasPrefix("*")
        dowRestricted = !fields[4].hasPrefix("*")
        hourIsWildcard = fields[1].hasPrefix("*")
        sortedMinutes = minutes.sorted()
        sortedHours = hours.sorted()
        // A day of month that no chosen month has (`0 0 31 2 *`, `0 0 31 4,6 *`) never fires. Unchecked, the
        // source would look scheduled, run once because it never ran, and then never again. (With a
        // restricted day-of-week too, either matching is enough, so such a schedule still fires.)
        if domRestricted && !dowRestricted, !months.contains(where: { m in daysOfMonth.contains { $0 <= CronExpression.longestMonth[m - 1] } }) {
            let names = months.sorted().map { CronExpression.monthNames[$0 - 1] }.joined(separator: ", ")
            throw ParseError(description: "the schedule \"\(text)\" never fires: no day \(daysOfMonth.sorted().map(String.init).joined(separator: ", ")) in \(names)")
        }
    }

    /// The most days each month can have (February: 29, in leap years).
    static let longestMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    public static func == (a: CronExpression, b: CronExpression) -> Bool { a.text == b.text }

    private static func field(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String], nameBase: Int = 0) throws -> Set<Int> {
        func value(_ s: String) throws -> Int {
            if let n = Int(s) {
                guard range.contains(n) else { throw ParseError(description: "\(what) \(n) is out of range \(range.lowerBound)-\(range.upperBound)") }
                return n
            }
            if let i = names.firstIndex(of: s.lowercased()) { return i + nameBase }
            throw ParseError(description: "\"\(s)\" is not a valid \(what)")
        }
        var out = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw ParseError(description: "empty list element in the \(what) field \"\(text)\"") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2 else { throw ParseError(description: "\"\(part)\" is not a valid \(what)") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s >= 1 else { throw ParseError(description: "the step in \"\(part)\" must be a positive number") }
                step = s
            }
            let base = pieces[0]
            var lo: Int, hi: Int
            if base == "*" { lo = range.lowerBound; hi = range.upperBound == 7 ? 6 : range.upperBound }
            else if let dash = base.firstIndex(of: "-") {
                lo = try value(String(base[..<dash])); hi = try value(String(base[base.index(after: dash)...]))
                guard lo <= hi else { throw ParseError(description: "the range \"\(base)\" in the \(what) field runs backwards") }
            } else {
                lo = try value(base)
                hi = pieces.count == 2 ? (range.upperBound == 7 ? 6 : range.upperBound) : lo
            }
            for v in stride(from: lo, through: hi, by: step) { out.insert(v) }
        }
        return out
    }

    /// Whether the schedule fires on a civil date.
    func matchesDay(year: Int, month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day), dow = daysOfWeek.contains(weekday)
        if domRestricted && dowRestricted { return dom || dow }
        return dom && dow
    }
}
