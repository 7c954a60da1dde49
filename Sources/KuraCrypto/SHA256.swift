import CCrypto

/// One-shot SHA-256 (FIPS 180-4) through OpenSSL's `EVP_Digest`.
///
/// Thread-safe: every call uses its own digest context with the process-wide
/// `EVP_MD` that is fetched once. For data that arrives in pieces use
/// ``SHA256Hasher``.
public enum SHA256 {
    /// The digest length in bytes (32).
    public static let digestSize = 32

    /// Returns the 32-byte SHA-256 digest of `data`.
    public static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: digestSize) { output, initialized in
            var length: UInt32 = 0
            guard EVP_Digest(data.baseAddress, data.count, output.baseAddress, &length,
                             OpenSSL.sha256, nil) == 1,
                  Int(length) == digestSize
            else { OpenSSL.fatal("EVP_Digest(SHA256)") }
            initialized = digestSize
        }
    }

    /// Returns the 32-byte SHA-256 digest of `data`.
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }
}
