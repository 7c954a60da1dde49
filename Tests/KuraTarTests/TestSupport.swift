import Foundation
import KuraTar
import KuraTestSupport
import Testing

/// An entry and its contents, as handed to the writer.
struct Member {
    var entry: TarEntry
    var contents: [UInt8] = []
}

/// Writes `members` with a `TarWriter`, handing file contents over in pieces of `piece` bytes.
func writeArchive(_ members: [Member], piece: Int = 100_000) throws -> [UInt8] {
    var output: [UInt8] = []
    let writer = TarWriter { output += $0 }
    for member in members {
        try writer.writeHeader(member.entry)
        var offset = 0
        while offset < member.contents.count {
            let end = min(offset + piece, member.contents.count)
            try writer.writeContents(Array(member.contents[offset..<end]))
            offset = end
        }
        try writer.finishEntry()
    }
    try writer.finish()
    return output
}

/// Feeds `archive` to a `TarReader` in random-sized pieces and collects entries with contents.
func readArchive(_ archive: [UInt8], seed: UInt64 = 1, maxPiece: Int = 5000) throws -> [Member] {
    let reader = TarReader()
    var generator = SplitMix64(seed: seed)
    var events: [TarReader.Event] = []
    var offset = 0
    while offset < archive.count {
        let count = Int.random(in: 1...maxPiece, using: &generator)
        let end = min(offset + count, archive.count)
        events += try reader.feed(Array(archive[offset..<end]))
        offset = end
    }
    try reader.finish()
    return try members(from: events)
}

/// Groups reader events into members, checking their order along the way.
func members(from events: [TarReader.Event]) throws -> [Member] {
    var result: [Member] = []
    var open = false
    var ended = false
    for event in events {
        #expect(!ended, "event after endOfArchive")
        switch event {
        case .header(let entry):
            #expect(!open, "header inside an entry")
            result.append(Member(entry: entry))
            open = true
        case .contents(let piece):
            #expect(open, "contents outside an entry")
            result[result.count - 1].contents += piece
        case .endOfEntry:
            #expect(open, "endOfEntry outside an entry")
            open = false
        case .endOfArchive:
            #expect(!open, "endOfArchive inside an entry")
            ended = true
        }
    }
    #expect(ended, "no endOfArchive event")
    return result
}

/// Runs `arguments[0]` (looked up on PATH) with the rest as arguments, in the C locale and UTC
/// (the listings the tests compare with are GNU tar's in that locale and zone).
@discardableResult
func run(_ arguments: [String], stdin: Data? = nil, in directory: String? = nil) throws -> RunResult {
    var environment = ProcessInfo.processInfo.environment
    environment["LC_ALL"] = "C"
    environment["TZ"] = "UTC"
    return try TestProcess.command(arguments, environment: environment, directory: directory, stdin: stdin.map { .bytes($0) } ?? .null)
}

/// How GNU tar's default `escape` quoting shows a name in the C locale.
func gnuEscaped(_ name: [UInt8]) -> String {
    var result = ""
    for byte in name {
        switch byte {
        case UInt8(ascii: "\\"): result += "\\\\"
        case UInt8(ascii: "\n"): result += "\\n"
        case UInt8(ascii: "\t"): result += "\\t"
        case 0x20...0x7E: result.unicodeScalars.append(UnicodeScalar(byte))
        default:
            let octal = String(byte, radix: 8)
            result += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
        }
    }
    return result
}
