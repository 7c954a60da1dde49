import Foundation
import KuraTar
import Testing

/// UTF-8 bytes of a string.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A deterministic generator (SplitMix64) so random-sized pieces are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `count` pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    var result = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        var word = generator.next()
        for _ in 0..<8 where index < count {
            result[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return result
}

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

/// A uniquely named scratch directory; call `remove()` when done.
struct TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("kuratar-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The outcome of running a command.
struct CommandResult {
    var status: Int32
    var stdout: Data
    var stderr: String
    var output: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs `arguments[0]` (looked up on PATH) with the rest as arguments, in the C locale and
/// UTC, with stdout and stderr captured through files so large outputs cannot deadlock.
@discardableResult
func run(_ arguments: [String], stdin: Data? = nil, in directory: String? = nil) throws -> CommandResult {
    let scratch = try TemporaryDirectory()
    defer { scratch.remove() }
    let outPath = scratch.file("stdout")
    let errPath = scratch.file("stderr")
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["LC_ALL"] = "C"
    environment["TZ"] = "UTC"
    process.environment = environment
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardOutput = outHandle
    process.standardError = errHandle
    if let stdin {
        let inPath = scratch.file("stdin")
        _ = FileManager.default.createFile(atPath: inPath, contents: stdin)
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    process.waitUntilExit()
    try outHandle.close()
    try errHandle.close()
    return CommandResult(
        status: process.terminationStatus,
        stdout: try Data(contentsOf: URL(fileURLWithPath: outPath)),
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
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

/// Lowercase hex of bytes.
func hex(_ data: some Sequence<UInt8>) -> String {
    data.map { String(format: "%02x", $0) }.joined()
}
