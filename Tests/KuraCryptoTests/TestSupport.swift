import Foundation
import KuraTestSupport

// Helpers for these tests only; hex, random bytes, folders and processes come from KuraTestSupport.

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

/// Path of the system gzip binary.
let gzipPath = ["/usr/bin/gzip", "/bin/gzip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/gzip"
