import CCrypto

/// Compares two byte strings without data-dependent timing (OpenSSL's `CRYPTO_memcmp`).
///
/// Use it for MACs, tags and key checks. Only the contents are protected: when
/// the lengths differ the function returns `false` at once (lengths are not secret).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { left in
        b.withUnsafeBytes { right in
            CRYPTO_memcmp(left.baseAddress, right.baseAddress, a.count) == 0
        }
    }
}
