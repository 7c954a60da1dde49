import Foundation

/// A retention duration in restic's `--keep-within` format: whole years, months, days and hours, written `1y2m3d4h`.
///
/// It is not a fixed length of time. When a policy is applied, the years, months and days are calendar steps
/// back from the wall clock of the newest snapshot, normalised the way Go's `time.AddDate` does it (31 March
/// minus one month is "31 February", that is 2 or 3 March, never 28/29 February), and the hours are then exact
/// 3,600-second steps. So `2d` across a daylight-saving change can be 47 or 49 hours, while `48h` is always 48.
///
/// `m` means months, there is no unit for minutes, seconds or weeks (`1w` is an error; write `7d`).
public struct RetentionDuration: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Calendar years.
    public var years: Int
    /// Calendar months.
    public var months: Int
    /// Calendar days.
    public var days: Int
    /// Exact hours of 3,600 seconds.
    public var hours: Int

    /// A duration of the given parts; restic never mixes them up, so `init(days: 40)` stays 40 days.
    public init(years: Int = 0, months: Int = 0, days: Int = 0, hours: Int = 0) {
        self.years = years
        self.months = months
        self.days = days
        self.hours = hours
    }

    /// The zero duration, which restic treats as "option not given".
    public static let zero = RetentionDuration()

    /// Whether every part is zero (restic's `Duration.Zero()`); a zero `--keep-within*` is ignored.
    public var isZero: Bool { years == 0 && months == 0 && days == 0 && hours == 0 }

    /// Whether any part is negative. restic 0.16 and later refuse such durations in `forget`; 0.14 accepted them.
    public var hasNegativePart: Bool { years < 0 || months < 0 || days < 0 || hours < 0 }

    /// restic's canonical spelling: the non-zero parts in the order y, m, d, h (`"1y2m3d4h"`, `"14d"`, `""` for zero).
    public var description: String {
        var text = ""
        if years != 0 { text += "\(years)y" }
        if months != 0 { text += "\(months)m" }
        if days != 0 { text += "\(days)d" }
        if hours != 0 { text += "\(hours)h" }
        return text
    }

    /// Parses restic's duration format; see ``RetentionPolicy/parseDuration(_:)``.
    public init(parsing text: String) throws(RetentionDurationError) {
        self = try RetentionDuration.parse(text)
    }

    /// Decodes the string form (`"14d"`), as written by ``encode(to:)``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try RetentionDuration.parse(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    /// Encodes the duration as its string form (`"1y2m"`), which reads well in configuration files.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// restic's `ParseDuration`: surrounding white space is ignored; then one or more `<number><unit>` pairs
    /// follow, where a number is ASCII digits with an optional leading `-` and a unit is `y`, `m`, `d` or `h`.
    /// Units may come in any order; a repeated unit replaces the earlier value (`1d2d` is 2 days), as in restic.
    /// The empty string is the zero duration.
    static func parse(_ text: String) throws(RetentionDurationError) -> RetentionDuration {
        let scalars = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).unicodeScalars)
        var result = RetentionDuration()
        var index = 0
        while index < scalars.count {
            let numberStart = index
            var negative = false
            if scalars[index] == "-" {
                negative = true
                index += 1
            }
            var digits = ""
            while index < scalars.count, ("0"..."9").contains(scalars[index]) {
                digits.unicodeScalars.append(scalars[index])
                index += 1
            }
            if digits.isEmpty {
                var remainder = String.UnicodeScalarView()
                remainder.append(contentsOf: scalars[numberStart...])
                throw .missingNumber(input: text, remainder: String(remainder))
            }
            guard let magnitude = Int(digits) else { throw .numberOutOfRange(input: text, digits: digits) }
            let number = negative ? -magnitude : magnitude
            guard index < scalars.count else { throw .missingUnit(input: text, number: number) }
            switch scalars[index] {
            case "y": result.years = number
            case "m": result.months = number
            case "d": result.days = number
            case "h": result.hours = number
            default: throw .invalidUnit(input: text, unit: String(scalars[index]), number: number)
            }
            index += 1
        }
        return result
    }
}

/// Why a duration string could not be parsed.
public enum RetentionDurationError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// A number was expected where `remainder` starts (the start, or after a unit); restic says "no number found".
    case missingNumber(input: String, remainder: String)
    /// The text ended right after a number; restic says "no unit found after number N".
    case missingUnit(input: String, number: Int)
    /// A number was followed by something other than y, m, d or h; restic says "invalid unit 'x' found after number N".
    case invalidUnit(input: String, unit: String, number: Int)
    /// The digits do not fit in an `Int` (restic panics here).
    case numberOutOfRange(input: String, digits: String)

    /// A message that names the input and says what is expected.
    public var description: String {
        let format = "a duration is numbers with units y (years), m (months), d (days), h (hours), e.g. 14d, 1y6m, 2d12h"
        switch self {
        case .missingNumber(let input, let remainder):
            return "invalid duration \"\(input)\": expected a number at \"\(remainder)\"; \(format)"
        case .missingUnit(let input, let number):
            return "invalid duration \"\(input)\": no unit after number \(number); \(format)"
        case .invalidUnit(let input, let unit, let number):
            let hint = unit == "w" ? " (there is no week unit, write 7d)" : ""
            return "invalid duration \"\(input)\": unit \"\(unit)\" after number \(number) is not one of y, m, d, h\(hint); \(format)"
        case .numberOutOfRange(let input, let digits):
            return "invalid duration \"\(input)\": number \(digits) is too large"
        }
    }

    /// Same as ``description``.
    public var errorDescription: String? { description }
}
