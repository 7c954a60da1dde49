import KuraChunker
import Testing
import KuraTestSupport

@Suite("Streaming")
struct StreamingTests {
    /// Feeds `data` in pieces as documented: each call sees the kept tail plus the next piece.
    static func streamedCutPoints(
        _ data: [UInt8], pieces: [Int], chunker: FastCDC, parallel: (segmentSize: Int, concurrency: Int)? = nil
    ) -> (ends: [Int], longestTail: Int) {
        var ends = [Int]()
        var pending = [UInt8]()
        var consumed = 0  // stream offset of pending[0]
        var offset = 0
        var longestTail = 0
        for (index, length) in pieces.enumerated() {
            pending.append(contentsOf: data[offset..<(offset + length)])
            offset += length
            let isFinal = index == pieces.count - 1
            let cuts: [Int]
            if let parallel {
                cuts = chunker.parallelCutPoints(
                    in: pending, isFinal: isFinal, segmentSize: parallel.segmentSize,
                    concurrency: parallel.concurrency)
            } else {
                cuts = chunker.cutPoints(in: pending, isFinal: isFinal)
            }
            ends.append(contentsOf: cuts.map { consumed + $0 })
            let kept = cuts.last ?? 0
            pending.removeFirst(kept)
            consumed += kept
            longestTail = max(longestTail, pending.count)
        }
        return (ends, longestTail)
    }

    static func randomPieces(total: Int, maxPiece: Int, using rng: inout SplitMix64) -> [Int] {
        var pieces = [Int]()
        var left = total
        while left > 0 {
            let piece = Int.random(in: 0...min(left, maxPiece), using: &rng)
            pieces.append(piece)
            left -= piece
        }
        pieces.append(0)  // an empty final call is allowed too
        return pieces
    }

    @Test("random-sized pieces give the whole-buffer cut points", arguments: 0..<6)
    func randomPieces(batch: UInt64) {
        var rng = SplitMix64(seed: 0x57AE_0000 + batch)
        for round in 0..<8 {
            let parameters = RandomMaterial.parameters(using: &rng)
            let chunker = FastCDC(parameters: parameters, gear: .seeded(rng.next()))
            // Tiny pieces make every call rescan the kept tail, so they get a shorter input.
            let maxPiece = [17, parameters.minSize, parameters.maxSize, 3 * parameters.maxSize][round % 4]
            let count = Int.random(in: 0...(maxPiece == 17 ? 20_000 : 150_000), using: &rng)
            let data = RandomMaterial.bytes(count: count, using: &rng)
            let expected = chunker.cutPoints(in: data, isFinal: true)
            let pieces = Self.randomPieces(total: data.count, maxPiece: maxPiece, using: &rng)
            let context = "batch \(batch) round \(round): \(parameters), \(data.count) bytes, \(pieces.count) pieces"

            let streamed = Self.streamedCutPoints(data, pieces: pieces, chunker: chunker)
            #expect(streamed.ends == expected, "\(context)")
            #expect(streamed.longestTail < parameters.maxSize, "\(context)")

            let segmentSize = Int.random(in: 1...5_000, using: &rng)
            let parallel = Self.streamedCutPoints(
                data, pieces: pieces, chunker: chunker, parallel: (segmentSize, Int.random(in: 1...3, using: &rng)))
            #expect(parallel.ends == expected, "\(context), parallel")
        }
    }

    @Test("non-final results are a prefix of the final ones and keep less than maxSize")
    func nonFinalPrefix() {
        var rng = SplitMix64(seed: 4242)
        for _ in 0..<30 {
            let parameters = RandomMaterial.parameters(using: &rng)
            let chunker = FastCDC(parameters: parameters, gear: .seeded(5))
            let data = RandomMaterial.bytes(count: Int.random(in: 0...60_000, using: &rng), using: &rng)
            let final = chunker.cutPoints(in: data, isFinal: true)
            let partial = chunker.cutPoints(in: data, isFinal: false)
            #expect(Array(final.prefix(partial.count)) == partial, "\(parameters)")
            #expect(data.count - (partial.last ?? 0) < parameters.maxSize, "\(parameters)")
            if let last = final.last { #expect(last == data.count) }
        }
    }

    @Test("a stream of default-sized chunks fed in 1 MiB reads")
    func defaultParametersInReads() {
        let chunker = FastCDC(parameters: .default, gear: .seeded(8))
        let data = InputGenerator.splitmix(seed: 21, length: 20 << 20 + 333)
        let expected = chunker.cutPoints(in: data)
        var pieces = Array(repeating: 1 << 20, count: data.count >> 20)
        pieces.append(data.count - pieces.reduce(0, +))
        let streamed = Self.streamedCutPoints(data, pieces: pieces, chunker: chunker)
        #expect(streamed.ends == expected)
        #expect(streamed.longestTail < ChunkerParameters.default.maxSize)
    }
}
