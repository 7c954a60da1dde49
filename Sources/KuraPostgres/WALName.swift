import Foundation

/// A position in the WAL (`pg_lsn`, written `X/Y` in hex).
public struct WALPosition: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }

    /// Parses `16/B374D848`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let hi = UInt64(parts[0], radix: 16), let lo = UInt64(parts[1], radix: 16),
              hi <= UInt32.max, lo <= UInt32.max else { return nil }
        value = hi << 32 | lo
    }

    public var description: String { String(format: "%X/%X", UInt32(value >> 32), UInt32(value & 0xffff_ffff)) }
    public static func < (a: WALPosition, b: WALPosition) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let p = WALPosition(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an LSN"))
        }
        self = p
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A WAL segment: timeline and segment number (for the default 16 MiB segment size, which kura assumes).
public struct WALSegment: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let size: UInt64 = 16 << 20
    static let perId: UInt64 = 0x1_0000_0000 / size

    public var timeline: UInt32
    public var number: UInt64

    public init(timeline: UInt32, number: UInt64) { self.timeline = timeline; self.number = number }

    /// The segment holding `position` on `timeline`.
    public init(timeline: UInt32, position: WALPosition) { self.init(timeline: timeline, number: position.value / WALSegment.size) }

    /// Parses a 24-hex-digit segment name (a `.partial` suffix is not a segment).
    public init?(name: String) {
        guard name.utf8.count == 24, name.allSatisfy({ $0.isHexDigit }),
              let tli = UInt32(name.prefix(8), radix: 16),
              let hi = UInt64(name.dropFirst(8).prefix(8), radix: 16),
              let lo = UInt64(name.suffix(8), radix: 16), lo < WALSegment.perId else { return nil }
        timeline = tli
        number = hi * WALSegment.perId + lo
    }

    public var name: String { String(format: "%08X%08X%08X", timeline, UInt32(number / WALSegment.perId), UInt32(number % WALSegment.perId)) }
    public var description: String { name }

    /// Orders by segment number, then timeline.
    public static func < (a: WALSegment, b: WALSegment) -> Bool { (a.number, a.timeline) < (b.number, b.timeline) }
}

/// One gap in the archived WAL: segments `from`...`to` (numbers) are missing on every timeline.
public struct WALGap: Sendable, Codable, Equatable {
    public var first: String
    public var last: String
    public var count: Int
    public init(first: String, last: String, count: Int) { self.first = first; self.last = last; self.count = count }
}

public enum WALGaps {
    /// The missing segment ranges between `start` and the newest archived segment: a segment number
    /// counts as present when any timeline at or after `start`'s has it (a promotion continues the
    /// same numbers on a new timeline).
    public static func find(in segments: [WALSegment], from start: WALSegment) -> [WALGap] {
        let numbers = Set(segments.filter { $0.timeline >= start.timeline }.map(\.number))
        guard let newest = numbers.max(), newest >= start.number else { return [] }
        var gaps: [WALGap] = []
        var n = start.number
        while n <= newest {
            if numbers.contains(n) { n += 1; continue }
            let begin = n
            while n <= newest, !numbers.contains(n) { n += 1 }
            let tli = start.timeline
            gaps.append(WALGap(first: WALSegment(timeline: tli, number: begin).name, last: WALSegment(timeline: tli, number: n - 1).name,
                               count: Int(n - begin)))
        }
        return gaps
    }
}
