import KuraCrypto
import Testing
import KuraTestSupport

@Suite("constantTimeEquals")
struct ConstantTimeEqualsTests {
    @Test("equal, different and differently sized inputs")
    func comparisons() {
        #expect(constantTimeEquals([], []))
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([0, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!constantTimeEquals([], [0]))
        let tag = SecureRandom.bytes(32)
        for index in tag.indices {
            var other = tag
            other[index] ^= 0x01
            #expect(!constantTimeEquals(tag, other))
        }
        #expect(constantTimeEquals(tag, Array(tag)))
    }
}
