import KuraCrypto
import Testing
import KuraTestSupport

@Suite("AES-256-GCM")
struct AESGCMTests {
    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16
    /// (AES-256, 96-bit IV, 60-byte plaintext, 20-byte associated data).
    @Test("McGrew-Viega test case 16")
    func mcGrewViegaCase16() throws {
        let key = hex("feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308")
        let nonce = hex("cafebabefacedbaddecaf888")
        let plaintext = hex("""
            d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
            1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39
            """)
        let associatedData = hex("feedfacedeadbeeffeedfacedeadbeef abaddad2")
        let ciphertext = hex("""
            522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
            8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662
            """)
        let tag = hex("76fc6ece0f4e1768cddf8853bb2d551b")
        let sealed = try AESGCM._seal(plaintext, key: key, nonce: nonce, associatedData: associatedData)
        #expect(sealed == nonce + ciphertext + tag)
        #expect(try AESGCM.open(sealed, key: key, associatedData: associatedData) == plaintext)
    }

    @Test("McGrew-Viega test cases 13 and 14 (zero key and IV)")
    func mcGrewViegaCases13And14() throws {
        let key = [UInt8](repeating: 0, count: 32)
        let nonce = [UInt8](repeating: 0, count: 12)
        let empty = try AESGCM._seal([], key: key, nonce: nonce)
        #expect(empty == nonce + hex("530f8afbc74536b9a963b4f1c4cb738b"))
        #expect(try AESGCM.open(empty, key: key) == [])
        let block = try AESGCM._seal([UInt8](repeating: 0, count: 16), key: key, nonce: nonce)
        #expect(block == nonce + hex("cea7403d4d606b6e074ec5d3baf39d18 d0d1c8a799996bf0265b98b5d48ab919"))
        #expect(try AESGCM.open(block, key: key) == [UInt8](repeating: 0, count: 16))
    }

    @Test("round trips of many sizes, with and without associated data", arguments: [0, 1, 15, 16, 17, 1000, 65_536, 1_048_579])
    func roundTrip(size: Int) throws {
        let key = SecureRandom.bytes(AESGCM.keySize)
        let plaintext = randomBytes(size, seed: UInt64(size))
        for associatedData in [[], Array("pack 0001".utf8)] {
            let sealed = try AESGCM.seal(plaintext, key: key, associatedData: associatedData)
            #expect(sealed.count == size + AESGCM.overhead)
            #expect(try AESGCM.open(sealed, key: key, associatedData: associatedData) == plaintext)
            let viaRaw = try plaintext.withUnsafeBytes { try AESGCM.seal($0, key: key, associatedData: associatedData) }
            #expect(try viaRaw.withUnsafeBytes { try AESGCM.open($0, key: key, associatedData: associatedData) } == plaintext)
        }
    }

    @Test("every seal uses a fresh nonce")
    func freshNonces() throws {
        let key = SecureRandom.bytes(32)
        let message = Array("same message".utf8)
        let sealed = try (0..<64).map { _ in try AESGCM.seal(message, key: key) }
        #expect(Set(sealed.map { Array($0.prefix(AESGCM.nonceSize)) }).count == sealed.count)
        #expect(Set(sealed).count == sealed.count)
        #expect(AESGCM.overhead == AESGCM.nonceSize + AESGCM.tagSize)
    }

    @Test("every single-bit flip at every byte position fails authentication")
    func bitFlipsFail() throws {
        let key = SecureRandom.bytes(32)
        let associatedData = Array("header".utf8)
        let sealed = try AESGCM.seal(Array("hello".utf8), key: key, associatedData: associatedData)
        #expect(sealed.count == 5 + 28)
        for position in sealed.indices {
            for bit in 0..<8 {
                var tampered = sealed
                tampered[position] ^= UInt8(1) << UInt8(bit)
                expectAuthenticationFailure { try AESGCM.open(tampered, key: key, associatedData: associatedData) }
            }
        }
    }

    @Test("truncations, extensions, wrong key and wrong associated data fail authentication")
    func otherTamperingFails() throws {
        let key = SecureRandom.bytes(32)
        let associatedData = Array("header".utf8)
        let sealed = try AESGCM.seal(Array("hello".utf8), key: key, associatedData: associatedData)
        for length in 0..<sealed.count {
            expectAuthenticationFailure { try AESGCM.open(Array(sealed.prefix(length)), key: key, associatedData: associatedData) }
            expectAuthenticationFailure { try AESGCM.open(Array(sealed.suffix(length)), key: key, associatedData: associatedData) }
        }
        expectAuthenticationFailure { try AESGCM.open(sealed + [0], key: key, associatedData: associatedData) }
        var wrongKey = key
        wrongKey[31] ^= 0x80
        expectAuthenticationFailure { try AESGCM.open(sealed, key: wrongKey, associatedData: associatedData) }
        expectAuthenticationFailure { try AESGCM.open(sealed, key: SecureRandom.bytes(32), associatedData: associatedData) }
        expectAuthenticationFailure { try AESGCM.open(sealed, key: key) }
        expectAuthenticationFailure { try AESGCM.open(sealed, key: key, associatedData: Array("headex".utf8)) }
        expectAuthenticationFailure { try AESGCM.open(sealed, key: key, associatedData: associatedData + [0]) }
        // The untampered message still opens.
        #expect(try AESGCM.open(sealed, key: key, associatedData: associatedData) == Array("hello".utf8))
    }

    @Test("wrong key or nonce sizes are invalid input")
    func invalidSizes() {
        for size in [0, 16, 31, 33] {
            let key = [UInt8](repeating: 1, count: size)
            let error = #expect(throws: CryptoError.self) { try AESGCM.seal([1, 2, 3], key: key) }
            #expect(error?.code == .invalidInput)
            let openError = #expect(throws: CryptoError.self) {
                try AESGCM.open([UInt8](repeating: 0, count: 40), key: key)
            }
            #expect(openError?.code == .invalidInput)
        }
        let nonceError = #expect(throws: CryptoError.self) {
            try AESGCM._seal([1], key: [UInt8](repeating: 0, count: 32), nonce: [0, 1, 2])
        }
        #expect(nonceError?.code == .invalidInput)
    }

    @Test("concurrent seal and open from many tasks")
    func concurrentUse() async throws {
        let key = SecureRandom.bytes(32)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<32 {
                group.addTask {
                    let plaintext = randomBytes(10_000 + index, seed: UInt64(index))
                    let sealed = try AESGCM.seal(plaintext, key: key, associatedData: [UInt8(index)])
                    return try AESGCM.open(sealed, key: key, associatedData: [UInt8(index)]) == plaintext
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }

    private func expectAuthenticationFailure(_ body: () throws -> [UInt8],
                                             sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: CryptoError.self, sourceLocation: sourceLocation) { _ = try body() }
        #expect(error?.code == .authenticationFailed, sourceLocation: sourceLocation)
    }
}
