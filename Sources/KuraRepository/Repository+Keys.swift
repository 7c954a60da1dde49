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

    /// Replaces the current key with one for a new password (new key first, then the old one removed).
    public func changePassword(to newPassword: [UInt8], cost: (n: UInt64, r: UInt64, p: UInt64) = KeyFile.defaultCost) async throws -> BlobID {
        try await withLock(.exclusive) { _ in
            let old = keyID
            let new = try await addKey(password: newPassword, cost: cost)
            if let old { try? await delete("keys/\(old.hex)") }
            keyID = new
            return new
        }
    }
}
