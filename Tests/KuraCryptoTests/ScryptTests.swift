import KuraCrypto
import Testing
import KuraTestSupport

@Suite("scrypt")
struct ScryptTests {
    @Test("RFC 7914 section 12 vector 1: \"\", \"\", N=16, r=1, p=1")
    func rfc7914Vector1() throws {
        let key = try Scrypt.deriveKey(password: [], salt: [], n: 16, r: 1, p: 1, length: 64)
        #expect(hexString(key) == """
            77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
            fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906
            """)
    }

    @Test("RFC 7914 section 12 vector 2: \"password\", \"NaCl\", N=1024, r=8, p=16")
    func rfc7914Vector2() throws {
        let key = try Scrypt.deriveKey(password: Array("password".utf8), salt: Array("NaCl".utf8),
                                       n: 1024, r: 8, p: 16, length: 64)
        #expect(hexString(key) == """
            fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162\
            2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640
            """)
    }

    @Test("N=2^17, r=8, p=1 (128 MiB) works: maxmem is large enough")
    func productionParameters() throws {
        // Expected value computed independently with Python's `cryptography` package.
        let key = try Scrypt.deriveKey(password: Array("correct horse".utf8), salt: Array("kura-salt".utf8),
                                       n: 1 << 17, r: 8, p: 1, length: 32)
        #expect(hexString(key) == "3bf029c24456a27d37f14894953d75223197537a013abba125a1b29078197d37")
    }

    @Test("invalid parameters are rejected", arguments: [
        (UInt64(0), UInt64(1), UInt64(1), 32),
        (1, 1, 1, 32),
        (3, 1, 1, 32),
        (1000, 1, 1, 32),
        (16, 0, 1, 32),
        (16, 1, 0, 32),
        (16, 1, 1, -1),
        (16, 1 << 40, 1, 32),
        (1 << 62, 1 << 30, 1, 32),
    ])
    func invalidParameters(n: UInt64, r: UInt64, p: UInt64, length: Int) {
        let error = #expect(throws: CryptoError.self) {
            try Scrypt.deriveKey(password: [1], salt: [2], n: n, r: r, p: p, length: length)
        }
        #expect(error?.code == .invalidInput)
    }

    @Test("zero-length output")
    func zeroLength() throws {
        #expect(try Scrypt.deriveKey(password: [1], salt: [2], n: 16, r: 1, p: 1, length: 0) == [])
    }
}
