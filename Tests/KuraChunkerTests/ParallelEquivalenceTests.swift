import KuraChunker
import Testing
import KuraTestSupport

@Suite("Parallel scan equals sequential chunking")
struct ParallelEquivalenceTests {
    @Test("random inputs, parameters, segment sizes and concurrency", arguments: 0..<8)
    func randomCases(batch: UInt64) {
        var rng = SplitMix64(seed: 0x5EED_0000 + batch)
        for round in 0..<12 {
            let parameters = RandomMaterial.parameters(using: &rng)
            let gear = GearTable.seeded(rng.next())
            let chunker = FastCDC(parameters: parameters, gear: gear)
            let count = Int.random(in: 0...160_000, using: &rng)
            let data = RandomMaterial.bytes(count: count, using: &rng)
            let segmentChoices = [
                1, Int.random(in: 2...63, using: &rng), 64, parameters.minSize - 1, parameters.minSize,
                Int.random(in: 65...50_000, using: &rng), max(1, count), count + 17,
            ]
            let segmentSize = segmentChoices[Int.random(in: 0..<segmentChoices.count, using: &rng)]
            let concurrency = Int.random(in: 1...4, using: &rng)
            let context = "batch \(batch) round \(round): \(parameters), \(count) bytes, segment \(segmentSize), concurrency \(concurrency)"
            for isFinal in [true, false] {
                let expected = chunker.cutPoints(in: data, isFinal: isFinal)
                let parallel = chunker.parallelCutPoints(
                    in: data, isFinal: isFinal, segmentSize: segmentSize, concurrency: concurrency)
                #expect(parallel == expected, "\(context), isFinal \(isFinal)")
            }
        }
    }

    @Test("sequential cutPoints equals a literal implementation of the definition", arguments: 0..<4)
    func againstNaive(batch: UInt64) {
        var rng = SplitMix64(seed: 0xBEEF_0000 + batch)
        for round in 0..<10 {
            let parameters = RandomMaterial.parameters(using: &rng)
            let gear = GearTable.seeded(rng.next())
            let data = RandomMaterial.bytes(count: Int.random(in: 0...120_000, using: &rng), using: &rng)
            let expected = NaiveFastCDC.cutPoints(data, parameters: parameters, gear: gear)
            let got = FastCDC(parameters: parameters, gear: gear).cutPoints(in: data)
            #expect(got == expected, "batch \(batch) round \(round): \(parameters), \(data.count) bytes")
        }
    }

    @Test("edge lengths around minSize and maxSize")
    func edgeLengths() {
        let parameters = ChunkerParameters(minSize: 64, averageSize: 128, maxSize: 256)
        let chunker = FastCDC(parameters: parameters, gear: .seeded(3))
        var rng = SplitMix64(seed: 77)
        let all = RandomMaterial.bytes(count: 1_200, using: &rng)
        for count in [0, 1, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1_200] {
            let data = Array(all.prefix(count))
            let expected = NaiveFastCDC.cutPoints(data, parameters: parameters, gear: .seeded(3))
            #expect(chunker.cutPoints(in: data) == expected, "\(count) bytes")
            // An allocation of exactly `count` bytes, so a sanitizer run catches any read past the end.
            let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
            defer { exact.deallocate() }
            exact.copyBytes(from: data)
            for isFinal in [true, false] {
                let sequential = chunker.cutPoints(in: UnsafeRawBufferPointer(exact), isFinal: isFinal)
                let parallel = chunker.parallelCutPoints(
                    in: UnsafeRawBufferPointer(exact), isFinal: isFinal, segmentSize: 50, concurrency: 2)
                #expect(sequential == parallel, "\(count) bytes")
                #expect(isFinal ? sequential == expected : expected.starts(with: sequential), "\(count) bytes")
            }
            for segmentSize in [1, 3, 64, 100] {
                for concurrency in 1...3 {
                    #expect(
                        chunker.parallelCutPoints(in: data, segmentSize: segmentSize, concurrency: concurrency) == expected,
                        "\(count) bytes, segment \(segmentSize), concurrency \(concurrency)")
                }
            }
        }
        #expect(chunker.cutPoints(in: [UInt8]()) == [])
        #expect(chunker.cutPoints(in: [UInt8](), isFinal: false) == [])
    }

    @Test("a large input with the default parameters")
    func defaultParameters() {
        let chunker = FastCDC(parameters: .default, gear: .seeded(99))
        let data = InputGenerator.splitmix(seed: 4, length: 24 << 20)
        let expected = chunker.cutPoints(in: data)
        #expect(expected.count > 10)
        for concurrency in [1, 2, 3] {
            #expect(chunker.parallelCutPoints(in: data, concurrency: concurrency) == expected)
            #expect(chunker.parallelCutPoints(in: data, segmentSize: 1_000_003, concurrency: concurrency) == expected)
        }
        #expect(chunker.parallelCutPoints(in: data, isFinal: false, concurrency: 2)
            == chunker.cutPoints(in: data, isFinal: false))
    }
}
