import Foundation

/// Decodes a hex string (whitespace ignored) into bytes.
func hex(_ string: String) -> [UInt8] {
    let digits = Array(string.filter { !$0.isWhitespace }.utf8)
    precondition(digits.count.isMultiple(of: 2), "odd hex length")
    func value(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: preconditionFailure("bad hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

/// Encodes bytes as lowercase hex.
func hexString(_ bytes: [UInt8]) -> String {
    let table = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(table[Int(byte >> 4)])
        out.append(table[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// SplitMix64: a small deterministic generator for reproducible test data.
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

/// `count` reproducible pseudo-random (incompressible) bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        var word = generator.next()
        for _ in 0..<8 where index < count {
            bytes[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return bytes
}

/// `count` reproducible bytes of English-like text (compresses roughly 3-4x).
func textBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    let words = """
        the repository stores every chunk once and names it by its hash while snapshots \
        refer to trees of files and directories that point at data blobs in pack files \
        backup restore encrypt compress index lock prune check mount key password salt \
        archive content defined chunking splits large files into pieces of about one \
        megabyte so that small edits change only a few chunks and deduplication works
        """.split(separator: " ").map { Array($0.utf8) }
    var generator = SplitMix64(seed: seed)
    var text: [UInt8] = []
    text.reserveCapacity(count + 32)
    var wordsInLine = 0
    while text.count < count {
        text += words[Int(generator.next() % UInt64(words.count))]
        wordsInLine += 1
        if generator.next() % 29 == 0 { text += Array("\(generator.next() % 100_000)".utf8) }
        if wordsInLine > 8, generator.next() % 4 == 0 {
            text += [UInt8(ascii: "."), UInt8(ascii: "\n")]
            wordsInLine = 0
        } else {
            text.append(UInt8(ascii: " "))
        }
    }
    return Array(text.prefix(count))
}

/// A fresh empty temporary directory, removed by the caller.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("kura-crypto-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `executable` with `arguments`, writing its standard output to `output`;
/// returns the exit status.
func run(_ executable: String, _ arguments: [String], output: URL) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
        throw CocoaError(.fileWriteUnknown)
    }
    let handle = try FileHandle(forWritingTo: output)
    defer { try? handle.close() }
    process.standardOutput = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

/// Path of the system gzip binary.
let gzipPath = ["/usr/bin/gzip", "/bin/gzip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/gzip"
