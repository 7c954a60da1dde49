import KuraChunker
import Testing
import KuraTestSupport

@Suite("Chunk invariants")
struct InvariantTests {
    @Test("every chunk but the last is within [minSize, maxSize]", arguments: 0..<4)
    func sizeBounds(batch: UInt64) {
        var rng = SplitMix64(seed: 0x1A7A_0000 + batch)
        for _ in 0..<10 {
            let parameters = RandomMaterial.parameters(using: &rng)
            let chunker = FastCDC(parameters: parameters, gear: .seeded(rng.next()))
            let data = RandomMaterial.bytes(count: Int.random(in: 1...200_000, using: &rng), using: &rng)
            let ends = chunker.cutPoints(in: data)
            #expect(ends.last == data.count)
            var start = 0
            for (index, end) in ends.enumerated() {
                let length = end - start
                #expect(length > 0)
                #expect(length <= parameters.maxSize, "\(parameters): chunk \(index) is \(length) bytes")
                if index < ends.count - 1 {
                    #expect(length >= parameters.minSize, "\(parameters): chunk \(index) is \(length) bytes")
                }
                start = end
            }
        }
    }

    @Test("random data gives chunks near the configured average")
    func averageSize() {
        let parameters = ChunkerParameters(minSize: 2048, averageSize: 8192, maxSize: 65536)
        let chunker = FastCDC(parameters: parameters, gear: .seeded(1))
        let data = InputGenerator.splitmix(seed: 31, length: 8 << 20)
        let ends = chunker.cutPoints(in: data)
        let mean = data.count / ends.count
        // Normalized chunking keeps the mean close to the average (a little above it).
        #expect(mean > parameters.averageSize / 2 && mean < parameters.averageSize * 2, "mean \(mean)")
    }

    @Test("uniform data is cut at maxSize")
    func uniformData() {
        let parameters = ChunkerParameters(minSize: 1024, averageSize: 4096, maxSize: 16384)
        let chunker = FastCDC(parameters: parameters, gear: .seeded(1))
        let data = [UInt8](repeating: 0x41, count: 100_000)
        let ends = chunker.cutPoints(in: data)
        #expect(ends == Array(stride(from: 16384, through: 98304, by: 16384)) + [100_000])
    }

    @Test("an edit only changes the chunks near it", arguments: [
        (position: 1_000_000, inserted: 1, deleted: 0),
        (position: 1_500_000, inserted: 100, deleted: 0),
        (position: 700_000, inserted: 0, deleted: 5_000),
        (position: 2_000_000, inserted: 4_000, deleted: 37),
    ])
    func resynchronisation(position: Int, inserted: Int, deleted: Int) {
        let parameters = ChunkerParameters(minSize: 2048, averageSize: 8192, maxSize: 65536)
        let chunker = FastCDC(parameters: parameters, gear: .seeded(1))
        let original = InputGenerator.splitmix(seed: 2024, length: 4 << 20)
        var edited = original
        edited.replaceSubrange(
            position..<(position + deleted), with: InputGenerator.splitmix(seed: 77, length: inserted))

        let before = chunks(of: original, ends: chunker.cutPoints(in: original))
        let after = chunks(of: edited, ends: chunker.cutPoints(in: edited))
        let afterSet = Set(after.map(Array.init))
        let kept = before.filter { afterSet.contains(Array($0)) }.count
        // Only the chunk holding the edit and at most a couple of neighbours may change.
        #expect(before.count - kept <= 3, "\(before.count - kept) of \(before.count) chunks changed")
        #expect(Double(kept) / Double(before.count) > 0.95)

        // Every chunk that ends before the edit is untouched, and past it the cut points line up
        // again, shifted by the change in length.
        let originalEnds = chunker.cutPoints(in: original)
        let editedEnds = chunker.cutPoints(in: edited)
        #expect(originalEnds.filter { $0 <= position } == editedEnds.filter { $0 <= position })
        let shift = inserted - deleted
        let farOriginal = originalEnds.filter { $0 > position + deleted + 4 * parameters.maxSize }
        let farEdited = Set(editedEnds.map { $0 - shift })
        #expect(!farOriginal.isEmpty)
        #expect(farOriginal.allSatisfy(farEdited.contains))
    }
}
