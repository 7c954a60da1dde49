import KuraCrypto
import Testing
import KuraTestSupport

@Suite("SHA-256")
struct SHA256Tests {
    @Test("FIPS 180-2 known answers: empty, abc, 1,000,000 x 'a'")
    func knownAnswers() {
        #expect(hexString(SHA256.hash([])) ==
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hexString(SHA256.hash(Array("abc".utf8))) ==
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(hexString(SHA256.hash(million)) ==
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(SHA256.digestSize == 32)
    }

    @Test("raw-buffer and array overloads agree")
    func overloadsAgree() {
        let data = randomBytes(4097, seed: 1)
        #expect(data.withUnsafeBytes { SHA256.hash($0) } == SHA256.hash(data))
        #expect(SHA256.hash(data).count == SHA256.digestSize)
    }

    @Test("streaming hasher matches one-shot for a 1,000,000 x 'a' input fed in uneven pieces")
    func hasherMillionA() {
        let hasher = SHA256Hasher()
        var remaining = 1_000_000
        var piece = 1
        while remaining > 0 {
            let count = min(piece, remaining)
            hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: count))
            remaining -= count
            piece = piece * 3 + 1
        }
        #expect(hexString(hasher.finalize()) ==
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("hasher split points, empty updates and reuse after finalize")
    func hasherSplitsAndReuse() {
        let data = randomBytes(10_000, seed: 2)
        let expected = SHA256.hash(data)
        let hasher = SHA256Hasher()
        for split in [0, 1, 63, 64, 65, 5000, 9999, 10_000] {
            hasher.update(Array(data[..<split]))
            hasher.update([])
            data[split...].withUnsafeBytes { hasher.update($0) }
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
        // finalize() resets: the next digest is of the next message only.
        #expect(hasher.finalize() == SHA256.hash([]))
        hasher.update(Array("abc".utf8))
        #expect(hasher.finalize() == SHA256.hash(Array("abc".utf8)))
    }

    @Test("concurrent hashing from many tasks gives the sequential results")
    func concurrentHashing() async {
        let inputs = (0..<16).map { randomBytes(64 * 1024 + $0, seed: UInt64(100 + $0)) }
        let expected = inputs.map { SHA256.hash($0) }
        let results = await withTaskGroup(of: (Int, [UInt8], [UInt8]).self) { group in
            for (index, input) in inputs.enumerated() {
                group.addTask {
                    let hasher = SHA256Hasher()
                    hasher.update(input)
                    return (index, SHA256.hash(input), hasher.finalize())
                }
            }
            var results = [(Int, [UInt8], [UInt8])]()
            for await result in group { results.append(result) }
            return results
        }
        #expect(results.count == inputs.count)
        for (index, oneShot, streamed) in results {
            #expect(oneShot == expected[index])
            #expect(streamed == expected[index])
        }
    }
}

@Suite("MD5 (for S3's Content-MD5)")
struct MD5Tests {
    @Test("RFC 1321 test suite vectors")
    func rfcVectors() {
        #expect(hexString(MD5.hash([])) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hexString(MD5.hash(Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hexString(MD5.hash(Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8)))
                == "57edf4a22be3c955ac49da2e2107b67a")
    }
}
