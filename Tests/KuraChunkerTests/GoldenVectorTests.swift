import Foundation
import KuraChunker
import Testing
import KuraTestSupport

/// The cut points pinned by `Vectors/golden.json`, which `Vectors/reference_fastcdc.py` (an
/// independent, literal Python implementation of the definition) generated.
struct GoldenVectors: Decodable {
    struct Input: Decodable {
        let kind: String
        let seed: UInt64?
        let length: Int
    }

    struct Case: Decodable {
        let name: String
        let input: Input
        let minSize: Int
        let averageSize: Int
        let maxSize: Int
        let ends: [Int]

        var parameters: ChunkerParameters {
            ChunkerParameters(minSize: minSize, averageSize: averageSize, maxSize: maxSize)
        }

        func makeInput() -> [UInt8]? {
            InputGenerator.make(kind: input.kind, seed: input.seed ?? 0, length: input.length)
        }
    }

    let gearSeed: UInt64
    let gearFirstValues: [String]
    let cases: [Case]

    static func load() throws -> GoldenVectors {
        let url = try #require(
            Bundle.module.url(forResource: "golden", withExtension: "json", subdirectory: "Vectors"),
            "Vectors/golden.json is missing from the test bundle")
        return try JSONDecoder().decode(GoldenVectors.self, from: Data(contentsOf: url))
    }
}

@Suite("Golden vectors")
struct GoldenVectorTests {
    @Test("GearTable.seeded(1) starts with the pinned SplitMix64 values")
    func seededGearTable() throws {
        let table = GearTable.seeded(1)
        #expect(table.values.count == 256)
        #expect(Array(table.values.prefix(4)) == [
            10_451_216_379_200_822_465, 13_757_245_211_066_428_519,
            17_911_839_290_282_890_590, 8_196_980_753_821_780_235,
        ])
        let golden = try GoldenVectors.load()
        #expect(golden.gearSeed == 1)
        #expect(golden.gearFirstValues.compactMap(UInt64.init) == Array(table.values.prefix(4)))
        #expect(Set(table.values).count == 256)
    }

    @Test("the input generators match the reference's")
    func generators() {
        // SplitMix64 from seed 0 starts 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4 (little-endian bytes).
        #expect(InputGenerator.splitmix(seed: 0, length: 9) == [0xAF, 0xCD, 0x1D, 0x7B, 0x39, 0xA8, 0x20, 0xE2, 0xF4])
        let runs = InputGenerator.runs(seed: 9, length: 100_000)
        #expect(runs.count == 100_000)
    }

    @Test("cutPoints and parallelCutPoints reproduce every golden case")
    func goldenCases() throws {
        let golden = try GoldenVectors.load()
        #expect(golden.cases.count >= 10)
        let gear = GearTable.seeded(golden.gearSeed)
        for golden in golden.cases {
            let input = try #require(golden.makeInput(), "unknown input kind in \(golden.name)")
            #expect(input.count == golden.input.length)
            try golden.parameters.validate()
            let chunker = FastCDC(parameters: golden.parameters, gear: gear)
            let sequential = chunker.cutPoints(in: input)
            #expect(sequential == golden.ends, "sequential cut points differ in case \(golden.name)")
            let parallel = chunker.parallelCutPoints(in: input, segmentSize: 1 << 20, concurrency: 2)
            #expect(parallel == golden.ends, "parallel cut points differ in case \(golden.name)")
        }
    }
}
