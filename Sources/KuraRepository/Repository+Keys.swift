import Foundation
import KuraStore

extension Repository {
    /// One key file, for `kura key list`.
    public struct KeyInfo: Sendable, Codable {
        public var id: String
        public var created: String
        public var host: String
        public var username: String
        public var kdf: String
        public var n: UInt64, r: UInt64, p: UInt64
        /// True for the key that opened this repository.
        public var current: Bool
    }

    public func listKeys() async throws -> [KeyInfo] {
        var out: [KeyInfo] = []
        for info in try await store.list(prefix: "keys/") {
            let id = String(info.key.dropFirst("keys/".count))
            guard let bytes = try? await getNamedByContent(info.key), let k = try? JSON.decode(KeyFile.self, from: bytes, what: info.key) else {
                out.append(KeyInfo(id: id, created: "?", host: "?", username: "?", kdf: "damaged", n: 0, r: 0, p: 0, current: false))
                continue
            }
            out.append(KeyInfo(id: id, created: k.created, host: k.host, username: k.username, kdf: k.kdf, n: k.n, r: k.r, p: k.p,
                               current: keyID?.hex == id))
        }
        return out.sorted { $0.created < $1.created }
    }

    /// Removes a key file (by id prefix). Refuses the key in use and the last key.
    public func removeKey(_ prefix: String) async throws -> String {
        try await withLock(.exclusive) { _ in try await removeKeyLocked(prefix) }
    }

    private func removeKeyLocked(_ prefix: String) async throws -> String {
        let keys = try await listKeys()
        let matches = keys.filter { $0.id.hasPrefix(prefix.lowercased()) }
        guard matches.count == 1, let key = matches.first else {
            throw KuraError(matches.isEmpty ? .notFound : .invalidArgument, matches.isEmpty ? "no key has an id starting with \(prefix)" : "\(prefix) matches \(matches.count) keys",
                            hint: "see `kura key list`")
        }
        guard !key.current else {
            throw KuraError(.invalidArgument, "key \(key.id.prefix(8)) is the one you opened the repository with", hint: "open with another password to remove this one, or use `kura key passwd`")
        }
        guard keys.count > 1 else { throw KuraError(.invalidArgument, "refusing to remove the last key: the data could never be decrypted again") }
        try await delete("keys/\(key.id)")
        return key.id
    }

    /// The ids of the key files that `password` opens. Each try costs one scrypt derivation (about
    /// 0.1 s and 32 MiB at the default cost), so this is meant for the handful of keys a repository
    /// has, not for thousands. Damaged key files are skipped (`key list` and `check` report them).
    public func keysOpening(password: [UInt8]) async throws -> [String] {
        var out: [String] = []
        let listing: [ObjectInfo]
        do { listing = try await store.list(prefix: "keys/") } catch { throw Repository.storeError(error, doing: "listing keys") }
        for info in listing {
            guard let bytes = try? await getNamedByContent(info.key),
                  let file = try? JSON.decode(KeyFile.self, from: bytes, what: info.key),
                  let opened = try? file.unwrap(password: password, what: info.key), opened != nil else { continue }
            out.append(String(info.key.dropFirst("keys/".count)))
        }
        return out.sorted()
    }

    /// What `changePassword` did: the new key, and the key files the old password opened that were removed
    /// (the one in use and any other key made with the same password).
    public struct PasswordChange: Sendable, Codable {
        public var key: String
        public var removed: [String]
    }

    /// Replaces the old password with a new one: writes a key for the new password first, then removes
    /// **every** key file the old password opens (not only the one in use), so that afterwards the old
    /// password opens nothing. Refuses a new password that already opens a key (it would not be a change).
    public func changePassword(from oldPassword: [UInt8], to newPassword: [UInt8],
                               cost: (n: UInt64, r: UInt64, p: UInt64) = KeyFile.defaultCost) async throws -> PasswordChange {
        try await withLock(.exclusive) { _ in
            let old = try await keysOpening(password: oldPassword)
            guard !old.isEmpty else {
                throw KuraError(.wrongPassword, "the old password opens no key of this repository", hint: "nothing was changed")
            }
            let new = try await addKey(password: newPassword, cost: cost)
            // The new key is stored: only now may the old ones go. A failure below leaves both passwords
            // working, which the error says; it never leaves none.
            var removed: [String] = []
            for id in old where id != new.hex {
                do { try await delete("keys/\(id)") } catch {
                    throw KuraError(.io, "the new password works, but key \(id.prefix(8)) for the old password could not be removed: \(error)",
                                    hint: "the old password still opens the repository; remove that key with `kura key remove \(id.prefix(8))` using the new password")
                }
                removed.append(id)
            }
            keyID = new
            return PasswordChange(key: new.hex, removed: removed)
        }
    }
}
