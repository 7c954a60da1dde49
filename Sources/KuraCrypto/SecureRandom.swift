import CCrypto

/// Cryptographically secure random bytes from OpenSSL's `RAND_bytes`
/// (a per-thread DRBG seeded from the operating system). Thread-safe.
public enum SecureRandom {
    /// Returns `count` random bytes (`count` must not be negative).
    ///
    /// Stops the process if OpenSSL cannot produce randomness, which only
    /// happens when its entropy source is broken; continuing would be unsafe.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count \(count)")
        return [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
            var offset = 0
            while offset < count {
                let length = min(count - offset, OpenSSL.maxIntChunk)
                guard RAND_bytes(output.baseAddress! + offset, Int32(length)) == 1 else {
                    OpenSSL.fatal("RAND_bytes")
                }
                offset += length
            }
            initialized = count
        }
    }
}
