import CCrypto

/// One-shot MD5 (RFC 1321) through OpenSSL's `EVP_Digest`. Not for security: S3 requires a
/// `Content-MD5` header on uploads into buckets with Object Lock, and checks the body against it.
public enum MD5 {
    /// The digest length in bytes (16).
    public static let digestSize = 16

    /// Returns the 16-byte MD5 digest of `data`.
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { buffer in
            [UInt8](unsafeUninitializedCapacity: digestSize) { output, initialized in
                var length: UInt32 = 0
                guard EVP_Digest(buffer.baseAddress, buffer.count, output.baseAddress, &length, OpenSSL.md5, nil) == 1,
                      Int(length) == digestSize
                else { OpenSSL.fatal("EVP_Digest(MD5)") }
                initialized = digestSize
            }
        }
    }
}
