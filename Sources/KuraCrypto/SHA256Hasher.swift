import CCrypto

/// Streaming SHA-256: feed data with `update(_:)`,
/// then read the digest with ``finalize()``.
///
/// A `final class` (rather than a `~Copyable` struct) so that it can be kept as
/// a stored property of other classes and driven through a `let` reference.
/// It owns one OpenSSL `EVP_MD_CTX` and is **not** `Sendable`: use one hasher
/// from one task at a time (it may be handed to another task with `sending`).
/// ``finalize()`` resets the hasher, so an instance can be reused for the next
/// message without reallocating the context.
public final class SHA256Hasher {
    private let context: OpaquePointer

    /// Creates a hasher in the initial state (the digest of no bytes so far).
    public init() {
        guard let context = EVP_MD_CTX_new() else { OpenSSL.fatal("EVP_MD_CTX_new") }
        guard EVP_DigestInit_ex2(context, OpenSSL.sha256, nil) == 1 else {
            EVP_MD_CTX_free(context)
            OpenSSL.fatal("EVP_DigestInit_ex2(SHA256)")
        }
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    /// Appends `data` to the message being hashed.
    public func update(_ data: UnsafeRawBufferPointer) {
        guard !data.isEmpty else { return }
        guard EVP_DigestUpdate(context, data.baseAddress, data.count) == 1 else {
            OpenSSL.fatal("EVP_DigestUpdate(SHA256)")
        }
    }

    /// Appends `data` to the message being hashed.
    public func update(_ data: [UInt8]) {
        data.withUnsafeBytes { update($0) }
    }

    /// Returns the 32-byte digest of everything passed to `update` since
    /// creation or the previous `finalize()`, and resets the hasher to its
    /// initial state for reuse.
    public func finalize() -> [UInt8] {
        let digest = [UInt8](unsafeUninitializedCapacity: SHA256.digestSize) { output, initialized in
            var length: UInt32 = 0
            guard EVP_DigestFinal_ex(context, output.baseAddress, &length) == 1,
                  Int(length) == SHA256.digestSize
            else { OpenSSL.fatal("EVP_DigestFinal_ex(SHA256)") }
            initialized = SHA256.digestSize
        }
        guard EVP_DigestInit_ex2(context, OpenSSL.sha256, nil) == 1 else {
            OpenSSL.fatal("EVP_DigestInit_ex2(SHA256)")
        }
        return digest
    }
}

/// A hasher holds a mutable OpenSSL context: it must not be shared between tasks.
@available(*, unavailable)
extension SHA256Hasher: Sendable {}
