import CCrypto

/// Process-wide libcrypto algorithm handles and error helpers (internal).
///
/// The algorithm objects are fetched once (explicit fetching avoids the
/// per-call name lookup and lock of implicit fetching) and are immutable
/// afterwards; OpenSSL 3 allows one fetched `EVP_MD`/`EVP_CIPHER`/`EVP_MAC`
/// to be used concurrently by any number of contexts on any number of threads.
/// Each operation creates its own context, so every entry point is thread-safe.
enum OpenSSL {
    /// SHA-256 from the default provider.
    nonisolated(unsafe) static let sha256: OpaquePointer = {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else { fatal("EVP_MD_fetch(SHA256)") }
        return md
    }()

    /// MD5 from the default provider (only for S3's `Content-MD5`, never for security).
    nonisolated(unsafe) static let md5: OpaquePointer = {
        guard let md = EVP_MD_fetch(nil, "MD5", nil) else { fatal("EVP_MD_fetch(MD5)") }
        return md
    }()

    /// AES-256-GCM from the default provider.
    nonisolated(unsafe) static let aes256GCM: OpaquePointer = {
        guard let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) else {
            fatal("EVP_CIPHER_fetch(AES-256-GCM)")
        }
        return cipher
    }()

    /// The largest length handed to a libcrypto call that takes an `int` length.
    static let maxIntChunk = 1 << 30

    /// Drains this thread's OpenSSL error queue and returns its entries joined
    /// by "; ", or nil when the queue was empty.
    static func drainErrors() -> String? {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            let text = buffer.withUnsafeMutableBufferPointer { raw -> String in
                ERR_error_string_n(code, raw.baseAddress, raw.count)
                return String(cString: raw.baseAddress!)
            }
            messages.append(text)
        }
        return messages.isEmpty ? nil : messages.joined(separator: "; ")
    }

    /// A `.libraryFailure` error for `operation`, with the drained OpenSSL error text.
    static func failure(_ operation: String) -> CryptoError {
        CryptoError(.libraryFailure, "\(operation) failed", libraryMessage: drainErrors())
    }

    /// Stops the process: libcrypto failed where failure is not recoverable
    /// (algorithm missing, out of memory in a non-throwing API).
    static func fatal(_ operation: String) -> Never {
        fatalError("KuraCrypto: \(operation) failed: \(drainErrors() ?? "no OpenSSL error")")
    }
}
