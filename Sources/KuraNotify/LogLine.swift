import Foundation
import Logging

/// Formats one log event as one line, in text or JSON.
///
/// Text: `2026-11-29T17:00:02.123+01:00 info kura.run: kura-run-summary duration=12.3 result=ok source=db`
/// — the message, then the metadata as `key=value` pairs sorted by key, quoted (`key="a b"`) when a
/// value has spaces, quotes or `=`; newlines and other control characters are escaped (`\n`), so an
/// event is always exactly one line and `grep kura-run-summary` finds the summary with all its fields.
///
/// JSON: `{"time":"…","level":"info","label":"kura.run","message":"…","metadata":{"result":"ok",…}}`.
enum LogLine {
    static func text(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(time) \(level.rawValue) \(label): \(escape(message))"
        for key in metadata.keys.sorted() {
            line += " \(escape(key))=\(textValue(metadata[key]!))"
        }
        return line
    }

    static func json(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"time\":\(ReportFormat.jsonString(time)),\"level\":\(ReportFormat.jsonString(level.rawValue)),"
            + "\"label\":\(ReportFormat.jsonString(label)),\"message\":\(ReportFormat.jsonString(message))"
        if !metadata.isEmpty { line += ",\"metadata\":" + jsonValue(.dictionary(metadata)) }
        return line + "}"
    }

    /// "2026-11-29T17:00:02.123+01:00" in the local time zone.
    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var parts = tm()
        localtime_r(&t, &parts)
        let offset = parts.tm_gmtoff
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03d%@%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(tv.tv_usec / 1000),
                      offset < 0 ? "-" : "+", abs(offset) / 3600, (abs(offset) % 3600) / 60)
    }

    private static func textValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return quoted(s)
        case .stringConvertible(let c): return quoted(c.description)
        case .array(let items): return quoted("[" + items.map(plain).joined(separator: ",") + "]")
        case .dictionary(let dict): return quoted("{" + dict.keys.sorted().map { "\($0)=\(plain(dict[$0]!))" }.joined(separator: ",") + "}")
        }
    }

    private static func plain(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let items): return "[" + items.map(plain).joined(separator: ",") + "]"
        case .dictionary(let dict): return "{" + dict.keys.sorted().map { "\($0)=\(plain(dict[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// A value as is when it is one plain word, else in double quotes with `"` and `\` escaped.
    private static func quoted(_ s: String) -> String {
        let plainWord = !s.isEmpty && !s.unicodeScalars.contains { $0.value <= 0x20 || $0 == "\"" || $0 == "=" || $0 == "\\" || $0.value == 0x7F }
        if plainWord { return s }
        return "\"" + escape(s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")) + "\""
    }

    /// Newlines, tabs and other control characters as escapes: one event, one line.
    static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where c.value < 0x20 || c.value == 0x7F: out += String(format: "\\x%02x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    private static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return ReportFormat.jsonString(s)
        case .stringConvertible(let c): return ReportFormat.jsonString(c.description)
        case .array(let items): return "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let dict):
            return "{" + dict.keys.sorted().map { "\(ReportFormat.jsonString($0)):\(jsonValue(dict[$0]!))" }.joined(separator: ",") + "}"
        }
    }
}
