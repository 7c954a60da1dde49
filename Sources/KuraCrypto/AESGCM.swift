import CCrypto

/// AES-256-GCM authenticated encryption through OpenSSL's `EVP_CIPHER` "AES-256-GCM".
///
/// A sealed message is `nonce (12) || ciphertext || tag (16)`, so it is exactly
/// ``overhead`` (28) bytes longer than the plaintext. `seal(_:key:associatedData:)`
/// draws a fresh random 96-bit nonce from `RAND_bytes` for every call.
/// Random nonces are safe for up to about 2^32 messages per key.
///
/// Thread-safe: every call uses its own cipher context.
public enum AESGCM {
    /// Key length in bytes (32, AES-256).
    public static let keySize = 32
    /// Nonce length in bytes (12, the GCM-recommended 96 bits).
    public static let nonceSize = 12
    /// Authentication tag length in bytes (16).
    public static let tagSize = 16
    /// Bytes a sealed message adds to its plaintext: `nonceSize + tagSize` (28).
    public static let overhead = 28

    /// Encrypts and authenticates `plaintext` (and authenticates `associatedData`).
    ///
    /// Returns nonce(12) || ciphertext || tag(16); the nonce is fresh random for every call.
    /// Throws `CryptoError(.invalidInput)` when `key` is not 32 bytes.
    public static func seal(_ plaintext: UnsafeRawBufferPointer, key: [UInt8],
                            associatedData: [UInt8] = []) throws -> [UInt8] {
        try sealCore(plaintext, key: key, nonce: nil, associatedData: associatedData)
    }

    /// Encrypts and authenticates `plaintext` (and authenticates `associatedData`).
    ///
    /// Returns nonce(12) || ciphertext || tag(16); the nonce is fresh random for every call.
    /// Throws `CryptoError(.invalidInput)` when `key` is not 32 bytes.
    public static func seal(_ plaintext: [UInt8], key: [UInt8],
                            associatedData: [UInt8] = []) throws -> [UInt8] {
        try plaintext.withUnsafeBytes {
            try sealCore($0, key: key, nonce: nil, associatedData: associatedData)
        }
    }

    /// **Testing only**: seals with a caller-chosen `nonce` (12 bytes), to check
    /// known-answer vectors. Never use it for real data: reusing a nonce under
    /// one key destroys GCM's confidentiality and authenticity.
    /// Returns nonce || ciphertext || tag, like `seal`.
    public static func _seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8],
                             associatedData: [UInt8] = []) throws -> [UInt8] {
        try plaintext.withUnsafeBytes {
            try sealCore($0, key: key, nonce: nonce, associatedData: associatedData)
        }
    }

    /// Verifies and decrypts a message produced by `seal`, returning the plaintext.
    ///
    /// Throws `CryptoError(.authenticationFailed)` when the tag does not verify
    /// (wrong key, wrong associated data, any flipped bit, truncation, or a message
    /// shorter than ``overhead``), and `CryptoError(.invalidInput)` when `key` is
    /// not 32 bytes. No plaintext is released unless the tag verifies.
    public static func open(_ sealed: UnsafeRawBufferPointer, key: [UInt8],
                            associatedData: [UInt8] = []) throws -> [UInt8] {
        try openCore(sealed, key: key, associatedData: associatedData)
    }

    /// Verifies and decrypts a message produced by `seal`, returning the plaintext.
    ///
    /// Throws `CryptoError(.authenticationFailed)` when the tag does not verify
    /// (wrong key, wrong associated data, any flipped bit, truncation, or a message
    /// shorter than ``overhead``), and `CryptoError(.invalidInput)` when `key` is
    /// not 32 bytes.
    public static func open(_ sealed: [UInt8], key: [UInt8],
                            associatedData: [UInt8] = []) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try openCore($0, key: key, associatedData: associatedData) }
    }

    // MARK: - Implementation

    private static func sealCore(_ plaintext: UnsafeRawBufferPointer, key: [UInt8], nonce: [UInt8]?,
                                 associatedData: [UInt8]) throws -> [UInt8] {
        guard key.count == keySize else {
            throw CryptoError(.invalidInput, "AES-256-GCM key must be \(keySize) bytes, got \(key.count)")
        }
        if let nonce, nonce.count != nonceSize {
            throw CryptoError(.invalidInput, "AES-GCM nonce must be \(nonceSize) bytes, got \(nonce.count)")
        }
        let total = plaintext.count + overhead
        return try [UInt8](unsafeUninitializedCapacity: total) { output, initialized in
            let base = output.baseAddress!
            if let nonce {
                nonce.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: nonceSize) }
            } else if RAND_bytes(base, Int32(nonceSize)) != 1 {
                throw OpenSSL.failure("RAND_bytes (nonce)")
            }
            guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSL.failure("EVP_CIPHER_CTX_new") }
            defer { EVP_CIPHER_CTX_free(context) }
            let started = key.withUnsafeBufferPointer {
                EVP_EncryptInit_ex2(context, OpenSSL.aes256GCM, $0.baseAddress, base, nil)
            }
            guard started == 1 else { throw OpenSSL.failure("EVP_EncryptInit_ex2(AES-256-GCM)") }
            try addAssociatedData(associatedData, to: context)
            let ciphertext = base + nonceSize
            if let input = plaintext.baseAddress, !plaintext.isEmpty {
                try transform(context, input.assumingMemoryBound(to: UInt8.self), count: plaintext.count,
                              into: ciphertext, operation: "EVP_EncryptUpdate")
            }
            var finalLength: Int32 = 0
            guard EVP_EncryptFinal_ex(context, ciphertext + plaintext.count, &finalLength) == 1,
                  finalLength == 0
            else { throw OpenSSL.failure("EVP_EncryptFinal_ex(AES-256-GCM)") }
            guard EVP_CIPHER_CTX_ctrl(context, KURA_EVP_CTRL_GCM_GET_TAG, Int32(tagSize),
                                      ciphertext + plaintext.count) == 1
            else { throw OpenSSL.failure("EVP_CTRL_GCM_GET_TAG") }
            initialized = total
        }
    }

    private static func openCore(_ sealed: UnsafeRawBufferPointer, key: [UInt8],
                                 associatedData: [UInt8]) throws -> [UInt8] {
        guard key.count == keySize else {
            throw CryptoError(.invalidInput, "AES-256-GCM key must be \(keySize) bytes, got \(key.count)")
        }
        guard sealed.count >= overhead, let sealedBase = sealed.baseAddress else {
            throw CryptoError(.authenticationFailed,
                              "sealed message of \(sealed.count) bytes is shorter than nonce + tag (\(overhead))")
        }
        let nonce = sealedBase.assumingMemoryBound(to: UInt8.self)
        let ciphertext = nonce + nonceSize
        let count = sealed.count - overhead
        let tag = ciphertext + count
        // Capacity of at least 1 so the output (and final) pointer is never nil.
        return try [UInt8](unsafeUninitializedCapacity: max(count, 1)) { output, initialized in
            let plaintext = output.baseAddress!
            guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSL.failure("EVP_CIPHER_CTX_new") }
            defer { EVP_CIPHER_CTX_free(context) }
            let started = key.withUnsafeBufferPointer {
                EVP_DecryptInit_ex2(context, OpenSSL.aes256GCM, $0.baseAddress, nonce, nil)
            }
            guard started == 1 else { throw OpenSSL.failure("EVP_DecryptInit_ex2(AES-256-GCM)") }
            // OpenSSL copies the expected tag; it never writes through this pointer.
            guard EVP_CIPHER_CTX_ctrl(context, KURA_EVP_CTRL_GCM_SET_TAG, Int32(tagSize),
                                      UnsafeMutableRawPointer(mutating: tag)) == 1
            else { throw OpenSSL.failure("EVP_CTRL_GCM_SET_TAG") }
            try addAssociatedData(associatedData, to: context)
            if count > 0 {
                try transform(context, ciphertext, count: count, into: plaintext, operation: "EVP_DecryptUpdate")
            }
            var finalLength: Int32 = 0
            guard EVP_DecryptFinal_ex(context, plaintext + count, &finalLength) == 1 else {
                _ = OpenSSL.drainErrors()
                // Do not leave unauthenticated plaintext in freed memory.
                plaintext.update(repeating: 0, count: count)
                throw CryptoError(.authenticationFailed, "AES-256-GCM tag does not verify")
            }
            initialized = count
        }
    }

    /// Feeds associated data into an initialized GCM context.
    private static func addAssociatedData(_ associatedData: [UInt8], to context: OpaquePointer) throws {
        guard !associatedData.isEmpty else { return }
        try associatedData.withUnsafeBufferPointer { aad in
            var offset = 0
            while offset < aad.count {
                let length = min(aad.count - offset, OpenSSL.maxIntChunk)
                var written: Int32 = 0
                // Encrypt and decrypt share the same update path; with a NULL
                // output pointer the input is authenticated only.
                guard EVP_CipherUpdate(context, nil, &written, aad.baseAddress! + offset, Int32(length)) == 1 else {
                    throw OpenSSL.failure("EVP_CipherUpdate (associated data)")
                }
                offset += length
            }
        }
    }

    /// Encrypts or decrypts `count` bytes (GCM is a stream mode: output length == input length).
    private static func transform(_ context: OpaquePointer, _ input: UnsafePointer<UInt8>, count: Int,
                                  into output: UnsafeMutablePointer<UInt8>, operation: String) throws {
        var offset = 0
        while offset < count {
            let length = min(count - offset, OpenSSL.maxIntChunk)
            var written: Int32 = 0
            guard EVP_CipherUpdate(context, output + offset, &written, input + offset, Int32(length)) == 1,
                  Int(written) == length
            else { throw OpenSSL.failure(operation) }
            offset += length
        }
    }
}
