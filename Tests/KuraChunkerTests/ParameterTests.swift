import KuraChunker
import Testing
import KuraTestSupport

@Suite("Parameters")
struct ParameterTests {
    @Test("the defaults are 512 KiB / 1 MiB / 8 MiB and valid")
    func defaults() throws {
        let parameters = ChunkerParameters()
        #expect(parameters == .default)
        #expect(parameters.minSize == 512 << 10)
        #expect(parameters.averageSize == 1 << 20)
        #expect(parameters.maxSize == 8 << 20)
        try parameters.validate()
        #expect(parameters.isValid)
        #expect(parameters.description == "min 512 KiB, avg 1 MiB, max 8 MiB")
    }

    @Test("bad parameters are rejected", arguments: [
        (63, 128, 256),           // minSize below the 64-byte window
        (0, 128, 256),
        (-5, 128, 256),
        (100, 200, 400),          // average not a power of two
        (100, 0, 400),
        (100, -128, 400),
        (128, 128, 256),          // minSize == averageSize
        (200, 128, 256),          // minSize > averageSize
        (64, 128, 128),           // averageSize == maxSize
        (64, 256, 200),           // maxSize < averageSize
        (64, 1 << 20, (1 << 40) + 1),  // maxSize beyond the limit
    ])
    func rejected(minSize: Int, averageSize: Int, maxSize: Int) {
        let parameters = ChunkerParameters(minSize: minSize, averageSize: averageSize, maxSize: maxSize)
        #expect(!parameters.isValid)
        #expect(throws: ChunkerError.self) { try parameters.validate() }
        do {
            try parameters.validate()
        } catch {
            #expect(error.description.hasPrefix("KuraChunker: "))
            #expect(!error.message.isEmpty)
        }
    }

    @Test("edge values that are allowed", arguments: [
        (64, 128, 129),
        (1024, 4096, 16384),
        (4095, 4096, 4097),
        (512 << 10, 1 << 20, 1 << 40),
    ])
    func accepted(minSize: Int, averageSize: Int, maxSize: Int) throws {
        try ChunkerParameters(minSize: minSize, averageSize: averageSize, maxSize: maxSize).validate()
    }

    @Test("masks: top b+2 and b-2 bits, the large mask inside the small one")
    func masks() {
        let parameters = ChunkerParameters.default  // b = 20
        #expect(parameters.averageBits == 20)
        #expect(parameters.smallMask == 0xFFFF_FC00_0000_0000)
        #expect(parameters.largeMask == 0xFFFF_C000_0000_0000)
        #expect(parameters.smallMask.nonzeroBitCount == 22)
        #expect(parameters.largeMask.nonzeroBitCount == 18)
        #expect(parameters.largeMask & parameters.smallMask == parameters.largeMask)
        let small = ChunkerParameters(minSize: 64, averageSize: 128, maxSize: 256)  // b = 7
        #expect(small.smallMask.nonzeroBitCount == 9)
        #expect(small.largeMask.nonzeroBitCount == 5)
        #expect(small.smallMask.leadingZeroBitCount == 0)
    }
}
