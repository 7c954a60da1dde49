import Foundation
import KuraCrypto

/// The local key cache: the master key, sealed under a cheaper derivation of the same password, so
/// that the nightly and every-few-minutes runs of one host do not pay the full scrypt derivation
/// (N = 2^15, about 0.1 s and 32 MiB: half of a no-change backup) each time.
///
/// One file per key file of the repository, `<cache>/<repository id>/keys/<key id>` (0600, folder
/// 0700): `"KKC1" ‖ salt (32 bytes) ‖ AES-256-GCM(scrypt(password, salt, N = 2^10, r = 8, p = 1),
/// master key, associated data "kura key cache" ‖ repository id ‖ key id)`. What that means for
/// security (docs/decisions.md, "The key cache"):
/// - The file alone does not open the repository: it takes the password, as the key file does. Its
///   derivation is 32 times cheaper than the key file's, so someone who copies the cache (and not the
///   password file) can guess weak passwords 32 times faster than from the repository's `keys/`.
/// - It is used only while its key file is still listed in the repository: `kura key remove` and
///   `kura key passwd` revoke cached copies on every host at their next run.
/// - It is written only for passwords that came from a file or the environment (the unattended
///   case), never for one typed at a prompt, and not at all with `--no-cache` or `KURA_KEY_CACHE=0`.
struct KeyCache {
    /// `<cache>/<repository id>`.
    let directory: String
    let repositoryID: String

    static let magic: [UInt8] = Array("KKC1".utf8)
    /// The cache's scrypt cost: 2^10 (1 MiB, a few milliseconds).
    static let cost = (n: UInt64(1 << 10), r: UInt64(8), p: UInt64(1))

    private var files: ObjectCache { ObjectCache(directory: directory) }

    private func associatedData(_ keyID: BlobID) -> [UInt8] {
        Array("kura key cache".utf8) + Array(repositoryID.utf8) + keyID.bytes
    }

    /// The master key cached for key file `keyID`, or nil when there is none, it is damaged, or the
    /// password is not the one it was cached with.
    func masterKey(keyID: BlobID, password: [UInt8]) -> [UInt8]? {
        guard let bytes = files.read("keys", keyID), bytes.count > 4 + 32, Array(bytes[0..<4]) == KeyCache.magic else { return nil }
        let salt = Array(bytes[4..<36])
        guard let wrapping = try? Scrypt.deriveKey(password: password, salt: salt, n: KeyCache.cost.n, r: KeyCache.cost.r,
                                                    p: KeyCache.cost.p, length: 32),
              let key = try? AESGCM.open(Array(bytes[36...]), key: wrapping, associatedData: associatedData(keyID)),
              key.count == 32 else { return nil }
        return key
    }

    /// Caches `masterKey` for key file `keyID` under `password` (failures are ignored: it is a cache).
    func save(keyID: BlobID, masterKey: [UInt8], password: [UInt8]) {
        let salt = SecureRandom.bytes(32)
        guard let wrapping = try? Scrypt.deriveKey(password: password, salt: salt, n: KeyCache.cost.n, r: KeyCache.cost.r,
                                                    p: KeyCache.cost.p, length: 32),
              let sealed = try? AESGCM.seal(masterKey, key: wrapping, associatedData: associatedData(keyID)) else { return }
        files.write("keys", keyID, KeyCache.magic + salt + sealed)
    }

    /// Removes cached keys whose key files the repository no longer lists.
    func prune(listed: Set<BlobID>) { files.prune("keys") { listed.contains($0) } }
}
