import CCrypto

/// The scrypt password-based key derivation function (RFC 7914) through
/// OpenSSL's `EVP_PBE_scrypt`.
///
/// Thread-safe. Memory use is about `128 * r * (n + p)` bytes; the limit handed
/// to OpenSSL (`maxmem`) is computed from the parameters, so any parameters the
/// machine can afford work (e.g. n = 2^17, r = 8, p = 1 needs 128 MiB).
/// Callers that read parameters from untrusted storage should bound them first.
public enum Scrypt {
    /// Derives `length` bytes from `password` and `salt` with cost parameters
    /// `n` (CPU/memory cost, a power of two greater than 1), `r` (block size)
    /// and `p` (parallelism).
    ///
    /// Throws `CryptoError(.invalidInput)` for invalid parameters and
    /// `CryptoError(.libraryFailure)` when OpenSSL fails (e.g. out of memory).
    public static func deriveKey(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64,
                                 length: Int) throws -> [UInt8] {
        guard n > 1, n & (n - 1) == 0 else {
            throw CryptoError(.invalidInput, "scrypt N must be a power of two greater than 1, got \(n)")
        }
        guard r >= 1, p >= 1, r <= UInt64(UInt32.max), p <= UInt64(UInt32.max) else {
            throw CryptoError(.invalidInput, "scrypt r and p must be in 1...2^32-1, got r=\(r) p=\(p)")
        }
        guard length >= 0 else {
            throw CryptoError(.invalidInput, "scrypt output length must not be negative, got \(length)")
        }
        guard length > 0 else { return [] }
        // OpenSSL requires maxmem >= 128*r*(N+2) (the V array) + 128*r*p (the B array).
        let (blocks, overflow1) = n.addingReportingOverflow(p + 2)
        let (perBlock, overflow2) = r.multipliedReportingOverflow(by: 128)
        let (needed, overflow3) = blocks.multipliedReportingOverflow(by: perBlock)
        let (maxMemory, overflow4) = needed.addingReportingOverflow(1 << 20)
        guard !(overflow1 || overflow2 || overflow3 || overflow4) else {
            throw CryptoError(.invalidInput, "scrypt parameters n=\(n) r=\(r) p=\(p) need too much memory")
        }
        return try [UInt8](unsafeUninitializedCapacity: length) { output, initialized in
            let status = password.withUnsafeBytes { passwordBytes in
                salt.withUnsafeBufferPointer { saltBytes in
                    EVP_PBE_scrypt(passwordBytes.baseAddress?.assumingMemoryBound(to: CChar.self),
                                   passwordBytes.count, saltBytes.baseAddress, saltBytes.count,
                                   n, r, p, maxMemory, output.baseAddress, length)
                }
            }
            guard status == 1 else { throw OpenSSL.failure("EVP_PBE_scrypt(N=\(n), r=\(r), p=\(p))") }
            initialized = length
        }
    }
}
