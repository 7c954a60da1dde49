import KuraCrypto
import Testing
import KuraTestSupport

@Suite("SecureRandom")
struct SecureRandomTests {
    @Test("lengths and uniqueness")
    func lengthsAndUniqueness() {
        #expect(SecureRandom.bytes(0) == [])
        #expect(SecureRandom.bytes(1).count == 1)
        let keys = (0..<100).map { _ in SecureRandom.bytes(32) }
        #expect(Set(keys).count == keys.count)
        let large = SecureRandom.bytes(1 << 20)
        #expect(large.count == 1 << 20)
        // Every byte value appears in a MiB of random data.
        #expect(Set(large).count == 256)
    }
}
