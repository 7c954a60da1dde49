import CCrypto

/// HMAC-SHA-256 (RFC 2104 / FIPS 198-1) through OpenSSL's `EVP_MAC` "HMAC".
///
/// Thread-safe: every call uses its own MAC context.
public enum HMACSHA256 {
    /// The length in bytes of an authentication code (32).
    public static let codeSize = 32

    /// Returns the 32-byte HMAC-SHA-256 of `data` under `key` (any key length, including empty).
    public static func authenticationCode(key: [UInt8], data: [UInt8]) -> [UInt8] {
        guard let context = EVP_MAC_CTX_new(mac) else { OpenSSL.fatal("EVP_MAC_CTX_new(HMAC)") }
        defer { EVP_MAC_CTX_free(context) }
        // EVP_MAC_init treats a NULL key as "keep the previous key", so an empty
        // key must still be passed through a valid pointer.
        let keyBytes = key.isEmpty ? [0] : key
        let initialized = "digest".withCString { name in
            "SHA256".withCString { value in
                var parameters = [
                    OSSL_PARAM_construct_utf8_string(name, UnsafeMutablePointer(mutating: value), 0),
                    OSSL_PARAM_construct_end(),
                ]
                return keyBytes.withUnsafeBufferPointer { keyPointer in
                    EVP_MAC_init(context, keyPointer.baseAddress, key.count, &parameters)
                }
            }
        }
        guard initialized == 1 else { OpenSSL.fatal("EVP_MAC_init(HMAC-SHA256)") }
        if !data.isEmpty {
            let updated = data.withUnsafeBufferPointer { EVP_MAC_update(context, $0.baseAddress, $0.count) }
            guard updated == 1 else { OpenSSL.fatal("EVP_MAC_update(HMAC-SHA256)") }
        }
        return [UInt8](unsafeUninitializedCapacity: codeSize) { output, count in
            var length = 0
            guard EVP_MAC_final(context, output.baseAddress, &length, codeSize) == 1,
                  length == codeSize
            else { OpenSSL.fatal("EVP_MAC_final(HMAC-SHA256)") }
            count = codeSize
        }
    }

    /// The HMAC implementation, fetched once (the digest is chosen per context).
    nonisolated(unsafe) private static let mac: OpaquePointer = {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { OpenSSL.fatal("EVP_MAC_fetch(HMAC)") }
        return mac
    }()
}
