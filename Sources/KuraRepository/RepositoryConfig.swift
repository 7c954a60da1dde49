import Foundation
import KuraChunker

/// The repository's `config` object. Its plaintext fields can be read without a password (so that a
/// newer format is refused before any key derivation); `sealed` repeats them together with the secret
/// chunker key, encrypted and authenticated with the master key, and wins on open.
public struct RepositoryConfig: Codable, Sendable, Equatable {
    /// The highest format version this build reads and writes.
    public static let currentVersion = 1

    public struct Chunker: Codable, Sendable, Equatable {
        /// "fastcdc-gear64": FastCDC, normalized chunking level 2, 64-byte gear window (docs/design.md).
        public var algorithm: String
        public var minSize: Int
        public var averageSize: Int
        public var maxSize: Int
    }

    public var version: Int
    /// Random 32-byte id, hex.
    public var id: String
    public var created: String
    public var chunker: Chunker
    /// "zstd" (chunks compressed when it saves space) or "none".
    public var compression: String
    public var compressionLevel: Int
    /// Target pack size in bytes.
    public var packSize: Int
    /// Base64 of AES-256-GCM(master key, JSON of `SealedConfig`).
    public var sealed: String

    public var chunkerParameters: ChunkerParameters {
        ChunkerParameters(minSize: chunker.minSize, averageSize: chunker.averageSize, maxSize: chunker.maxSize)
    }
}

/// The authenticated copy of the config, with the secret key from which the gear table is derived.
struct SealedConfig: Codable, Equatable {
    var version: Int
    var id: String
    var created: String
    var chunker: RepositoryConfig.Chunker
    var compression: String
    var compressionLevel: Int
    var packSize: Int
    /// Base64 of 32 random bytes.
    var chunkerKey: String
}

/// JSON helpers shared by config, keys, snapshots and locks: sorted keys, no escaped slashes.
enum JSON {
    static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw KuraError(.corrupt, "\(what) is not valid: \(error)")
        }
    }
}

/// Time stamps as RFC 3339 with nanoseconds and the local UTC offset, e.g. `2026-11-29T17:00:00.123456789+09:00`.
public enum Timestamp {
    public static func format(_ date: Date, timeZone: TimeZone = .current) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanos = Int(((date.timeIntervalSince1970 - seconds) * 1e9).rounded())
        return format(seconds: Int64(seconds), nanoseconds: UInt32(min(nanos, 999_999_999)), timeZone: timeZone)
    }

    /// Formats an exact time (seconds and nanoseconds since 1970), without going through a Double.
    public static func format(seconds: Int64, nanoseconds: UInt32, timeZone: TimeZone = .current) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        let nanos = Int(nanoseconds)
        var cal = Calendar(identifier: .gregorian); cal.timeZone = timeZone
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let off = timeZone.secondsFromGMT(for: date)
        let sign = off < 0 ? "-" : "+"
        let zone = off == 0 ? "Z" : String(format: "%@%02d:%02d", sign, abs(off) / 3600, (abs(off) % 3600) / 60)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%09d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, min(nanos, 999_999_999)) + zone
    }

    public static func parse(_ text: String) -> Date? {
        // Split off fractional seconds, which ISO8601DateFormatter handles only to milliseconds.
        var base = text
        var fraction = 0.0
        if let dot = text.firstIndex(of: ".") {
            var end = text.index(after: dot)
            while end < text.endIndex, text[end].isNumber { end = text.index(after: end) }
            fraction = Double("0" + text[dot..<end]) ?? 0
            base = String(text[..<dot] + text[end...])
        }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        guard let d = f.date(from: base) else { return nil }
        return d.addingTimeInterval(fraction)
    }
}
