import Foundation

/// How numbers, sizes, durations and times read in reports (and on the dashboard).
public enum ReportFormat {
    /// "1.21 GiB", "512 B" (binary units, as `kura stats` shows them).
    public static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var v = Double(n), u = 0
        while v >= 1024, u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : String(format: "%.2f %@", v, units[u])
    }

    /// "1,234,567".
    static func count<T: BinaryInteger>(_ n: T) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// "0.4 s", "12.3 s", "1 min 05 s", "2 h 03 min".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let total = Int(seconds.rounded())
        if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
        return String(format: "%d h %02d min", total / 3600, (total % 3600) / 60)
    }

    /// The dedup ratio as shown: "12.5x", or "no new data" when nothing was added.
    static func dedup(_ report: RunReport) -> String {
        guard report.bytesAdded > 0 else { return "no new data (∞)" }
        var ratio = report.dedupRatio
        if !(ratio.isFinite && ratio > 0) { ratio = Double(report.logicalBytes) / Double(report.bytesAdded) }
        return String(format: "%.1fx", ratio)
    }

    /// "2026-11-29 17:00" in the host's time zone (subjects sort by it within one host).
    static func minute(_ date: Date, _ zone: TimeZone) -> String {
        let c = components(date, zone)
        return String(format: "%04d-%02d-%02d %02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }

    /// "2026-11-29 17:00:02".
    static func second(_ date: Date, _ zone: TimeZone) -> String {
        let c = components(date, zone)
        return minute(date, zone) + String(format: ":%02d", c.second ?? 0)
    }

    /// The time zone's name at `date` for a reader, e.g. "CET", or "UTC+01:00" when it has no abbreviation.
    static func zoneName(_ date: Date, _ zone: TimeZone) -> String {
        if let abbreviation = zone.abbreviation(for: date), !abbreviation.isEmpty { return abbreviation }
        let offset = zone.secondsFromGMT(for: date)
        return String(format: "UTC%@%02d:%02d", offset < 0 ? "-" : "+", abs(offset) / 3600, (abs(offset) % 3600) / 60)
    }

    private static func components(_ date: Date, _ zone: TimeZone) -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    }

    /// Text safe inside HTML elements and attribute values.
    public static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A JSON string literal, quotes included.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where c.value < 0x20 || c.value == 0x7F || c.value == 0x2028 || c.value == 0x2029:
                out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// The first line of a possibly multi-line text (for one-line summaries).
    static func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? "")
            .trimmingCharacters(in: .whitespaces)
    }
}
