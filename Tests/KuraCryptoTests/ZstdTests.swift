import KuraCompression
import Testing
import KuraTestSupport

@Suite("Zstd")
struct ZstdTests {
    @Test("text round trips at several sizes and levels", arguments: [1000, 65_536, 1_048_576])
    func textRoundTrip(size: Int) throws {
        let text = textBytes(size, seed: UInt64(size))
        for level in [1, 3, 9] {
            let frame = try #require(Zstd.compress(text, level: level))
            #expect(frame.count < text.count)
            #expect(try Zstd.decompress(frame, expectedSize: text.count) == text)
            #expect(try frame.withUnsafeBytes { try Zstd.decompress($0, expectedSize: text.count) } == text)
        }
    }

    @Test("8 MiB round trip")
    func largeRoundTrip() throws {
        // Compressible text with incompressible stretches.
        var data = textBytes(8 << 20, seed: 8)
        data.replaceSubrange(1_000_000..<1_300_000, with: randomBytes(300_000, seed: 9))
        let frame = try #require(data.withUnsafeBytes { Zstd.compress($0) })
        #expect(try Zstd.decompress(frame, expectedSize: data.count) == data)
    }

    @Test("empty input: nothing to gain, and an empty frame decompresses to nothing")
    func empty() throws {
        #expect(Zstd.compress([]) == nil)
        #expect(ZstdCompressor().compress([UInt8]()) == nil)
        // `zstd -c < /dev/null`
        let emptyFrame = hex("28b52ffd240001000099e9d851")
        #expect(try Zstd.decompress(emptyFrame, expectedSize: 0) == [])
        let error = #expect(throws: CompressionError.self) { try Zstd.decompress(emptyFrame, expectedSize: 1) }
        #expect(error?.code == .sizeMismatch)
    }

    @Test("incompressible input returns nil")
    func incompressible() {
        for size in [1, 9, 10, 100, 4096, 1 << 20] {
            let data = randomBytes(size, seed: UInt64(size))
            #expect(Zstd.compress(data) == nil, "size \(size)")
            #expect(Zstd.compress(data, level: 1) == nil, "size \(size)")
            #expect(data.withUnsafeBytes { ZstdCompressor(level: 3).compress($0) } == nil, "size \(size)")
        }
    }

    @Test("ZstdCompressor is reusable and matches the one-shot output")
    func reusableCompressor() throws {
        let compressor = ZstdCompressor(level: 3)
        #expect(compressor.level == 3)
        for seed in 0..<5 {
            let text = textBytes(100_000 + seed * 777, seed: UInt64(seed))
            let frame = try #require(text.withUnsafeBytes { compressor.compress($0) })
            #expect(frame == Zstd.compress(text, level: 3))
            #expect(try Zstd.decompress(frame, expectedSize: text.count) == text)
        }
    }

    @Test("out-of-range levels are clamped")
    func levelClamping() throws {
        let text = textBytes(50_000, seed: 3)
        for level in [-5, 0, 22, 1000] {
            let frame = try #require(Zstd.compress(text, level: level))
            #expect(try Zstd.decompress(frame, expectedSize: text.count) == text)
        }
        // The fastest negative levels may not shrink this text at all; nil is then correct.
        if let frame = Zstd.compress(text, level: -1_000_000) {
            #expect(try Zstd.decompress(frame, expectedSize: text.count) == text)
        }
        #expect(ZstdCompressor(level: 1000).level == Zstd.maxLevel)
        #expect(ZstdCompressor(level: -1_000_000).level == Zstd.minLevel)
    }

    @Test("wrong expected size throws sizeMismatch")
    func wrongExpectedSize() throws {
        let text = textBytes(10_000, seed: 4)
        let frame = try #require(Zstd.compress(text))
        for wrong in [0, 1, 9_999, 10_001, 1 << 20] {
            let error = #expect(throws: CompressionError.self) { try Zstd.decompress(frame, expectedSize: wrong) }
            #expect(error?.code == .sizeMismatch, "expected size \(wrong)")
        }
        let negative = #expect(throws: CompressionError.self) { try Zstd.decompress(frame, expectedSize: -1) }
        #expect(negative?.code == .invalidArgument)
    }

    @Test("corrupt frames throw")
    func corruptFrames() throws {
        let text = textBytes(10_000, seed: 5)
        let frame = try #require(Zstd.compress(text))
        // Frame header: magic (4), descriptor 0x60 = single segment + 2-byte content size,
        // content size (2); the first block header starts at offset 7.
        #expect(frame[4] == 0x60)
        var badMagic = frame
        badMagic[0] ^= 0xFF
        var badContentSize = frame
        badContentSize[5] ^= 0x01
        var badBlockType = frame
        badBlockType[7] |= 0x06  // block type 3 is reserved
        var badBlockSize = frame
        badBlockSize[9] ^= 0x80
        let cases: [[UInt8]] = [
            [],
            badMagic,
            badContentSize,
            badBlockType,
            badBlockSize,
            Array(frame.prefix(3)),
            Array(frame.prefix(frame.count / 2)),
            Array(frame.dropLast()),
            frame + [0x00, 0x01, 0x02],
            randomBytes(200, seed: 6),
        ]
        for (index, corrupt) in cases.enumerated() {
            let error = #expect(throws: CompressionError.self, "case \(index)") {
                try Zstd.decompress(corrupt, expectedSize: text.count)
            }
            #expect(error?.code == .corruptInput || error?.code == .sizeMismatch, "case \(index)")
        }
    }

    @Test("concatenated frames decompress to the concatenation")
    func concatenatedFrames() throws {
        let first = textBytes(5000, seed: 10)
        let second = textBytes(7000, seed: 11)
        let frames = try #require(Zstd.compress(first)) + #require(Zstd.compress(second))
        #expect(try Zstd.decompress(frames, expectedSize: first.count + second.count) == first + second)
    }
}
