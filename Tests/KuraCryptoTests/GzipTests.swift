import Foundation
import KuraCompression
import Testing
import KuraTestSupport

@Suite("Gzip")
struct GzipTests {
    /// Compresses `data` with GzipWriter, writing it in pieces of `pieceSize`.
    private func gzip(_ data: [UInt8], level: Int = 6, pieceSize: Int = 10_000) throws -> [UInt8] {
        var output: [UInt8] = []
        let writer = GzipWriter(level: level) { output += $0 }
        var offset = 0
        while offset < data.count {
            let end = min(offset + pieceSize, data.count)
            if offset.isMultiple(of: 2) {
                try writer.write(Array(data[offset..<end]))
            } else {
                try data[offset..<end].withUnsafeBytes { try writer.write($0) }
            }
            offset = end
        }
        try writer.write([])
        try writer.finish()
        return output
    }

    /// Decompresses with GzipReader, feeding pieces of `pieceSize`, then finishes.
    private func gunzip(_ data: [UInt8], pieceSize: Int = 4096) throws -> [UInt8] {
        let reader = GzipReader()
        var output: [UInt8] = []
        var offset = 0
        while offset < data.count {
            let end = min(offset + pieceSize, data.count)
            output += try reader.feed(Array(data[offset..<end]))
            offset = end
        }
        try reader.finish()
        return output
    }

    /// Runs `gzip` with `arguments` on `input` written to a temporary file; returns its stdout.
    private func gzipTool(_ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let directory = try TemporaryFolder("kura-crypto-tests")
        defer { directory.remove() }
        let inputURL = directory.url.appendingPathComponent("input")
        try Data(input).write(to: inputURL)
        let result = try TestProcess.runBlocking(URL(fileURLWithPath: gzipPath), arguments + [inputURL.path])
        #expect(result.status == 0, "gzip \(arguments) exited with \(result.status)")
        return [UInt8](result.stdout)
    }

    @Test("what GzipWriter writes, `gzip -dc` decompresses to the same bytes", arguments: [0, 1, 1000, 3 << 20])
    func writerReadByGzipBinary(size: Int) throws {
        var data = textBytes(size, seed: UInt64(size))
        if size > 100_000 {
            data.replaceSubrange(100_000..<400_000, with: randomBytes(300_000, seed: 1))
        }
        for level in [1, 6, 9] where level == 6 || size <= 100_000 {
            let compressed = try gzip(data, level: level)
            #expect(compressed.prefix(3) == [0x1f, 0x8b, 0x08])
            #expect(try gzipTool(["-dc"], input: compressed) == data)
        }
    }

    @Test("GzipReader reads what `gzip -c` writes, in pieces of any size")
    func readerReadsGzipBinary() throws {
        let data = textBytes(300_000, seed: 2) + randomBytes(100_000, seed: 3)
        let compressed = try gzipTool(["-c", "-n"], input: data)
        for pieceSize in [1, 7, 4096, compressed.count] where pieceSize != 1 || compressed.count < 1_000_000 {
            #expect(try gunzip(compressed, pieceSize: pieceSize) == data, "piece size \(pieceSize)")
        }
    }

    @Test("GzipReader reads two concatenated members")
    func concatenatedMembers() throws {
        let first = textBytes(50_000, seed: 4)
        let second = textBytes(70_000, seed: 5)
        let members = try gzipTool(["-c"], input: first) + gzipTool(["-c", "-9"], input: second)
        for pieceSize in [3, 1000, members.count] {
            #expect(try gunzip(members, pieceSize: pieceSize) == first + second, "piece size \(pieceSize)")
        }
        // A member holding no data, between two others.
        let withEmpty = try gzip(first) + gzipTool(["-c"], input: []) + gzip(second)
        #expect(try gunzip(withEmpty, pieceSize: 999) == first + second)
    }

    @Test("a truncated stream throws on finish()")
    func truncatedStream() throws {
        let data = textBytes(100_000, seed: 6)
        let compressed = try gzipTool(["-c"], input: data)
        for length in [1, 10, compressed.count / 2, compressed.count - 8, compressed.count - 1] {
            let reader = GzipReader()
            _ = try reader.feed(Array(compressed.prefix(length)))
            let error = #expect(throws: CompressionError.self, "length \(length)") { try reader.finish() }
            #expect(error?.code == .truncatedInput, "length \(length)")
        }
        // The second of two members is cut short.
        let twoMembers = compressed + compressed
        let reader = GzipReader()
        _ = try reader.feed(Array(twoMembers.dropLast(3)))
        let error = #expect(throws: CompressionError.self) { try reader.finish() }
        #expect(error?.code == .truncatedInput)
        // Nothing fed at all.
        let empty = GzipReader()
        _ = try empty.feed([])
        #expect(throws: CompressionError.self) { try empty.finish() }
    }

    @Test("corrupt input throws corruptInput")
    func corruptInput() throws {
        let data = textBytes(20_000, seed: 7)
        let compressed = try gzip(data)
        var badHeader = compressed
        badHeader[1] = 0x00
        var badTrailer = compressed
        badTrailer[badTrailer.count - 6] ^= 0x01  // CRC-32
        for corrupt in [badHeader, badTrailer, compressed + [0x42, 0x42, 0x42]] {
            let reader = GzipReader()
            let error = #expect(throws: CompressionError.self) { _ = try reader.feed(corrupt) }
            #expect(error?.code == .corruptInput)
            // A failed reader refuses further use.
            let reuse = #expect(throws: CompressionError.self) { _ = try reader.feed([0]) }
            #expect(reuse?.code == .invalidState)
        }
    }

    @Test("writer and reader round trip; use after finish throws")
    func roundTripAndState() throws {
        let data = textBytes(500_000, seed: 8)
        #expect(try gunzip(gzip(data, pieceSize: 333), pieceSize: 5000) == data)
        #expect(try gunzip(gzip([])) == [])

        let writer = GzipWriter { _ in }
        try writer.finish()
        let afterFinish = #expect(throws: CompressionError.self) { try writer.write([1]) }
        #expect(afterFinish?.code == .invalidState)
        #expect(throws: CompressionError.self) { try writer.finish() }

        let reader = GzipReader()
        _ = try reader.feed(try gzip([1, 2, 3]))
        try reader.finish()
        #expect(throws: CompressionError.self) { _ = try reader.feed([1]) }
    }

    @Test("an error thrown by the sink propagates")
    func sinkErrorPropagates() throws {
        struct SinkFull: Error {}
        let writer = GzipWriter(level: 0) { _ in throw SinkFull() }
        #expect(throws: SinkFull.self) {
            try writer.write(randomBytes(1 << 20, seed: 9))
            try writer.finish()
        }
        #expect(throws: CompressionError.self) { try writer.finish() }
    }
}
