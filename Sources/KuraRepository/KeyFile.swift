import Foundation
import KuraCrypto

/// A `keys/<id>` object: the master key, wrapped with a key derived from one password by scrypt.
/// Several key files may exist; each opens the same master key.
public struct KeyFile: Codable, Sendable {
    public var version: Int
    public var created: String
    public var host: String
    public var username: String
    /// Always "scrypt".
    public var kdf: String
    public var n: UInt64
    public var r: UInt64
    public var p: UInt64
    /// Base64 salt (32 random bytes).
    public var salt: String
    /// Base64 of AES-256-GCM(derived key, JSON `{"encryption": base64 master key}`).
    public var data: String

    /// The weakest scrypt cost accepted for new keys: restic's default (N = 2^15, r = 8, p = 1).
    public static let defaultCost = (n: UInt64(1 << 15), r: UInt64(8), p: UInt64(1))

    struct Payload: Codable { var encryption: String }

    /// Wraps `masterKey` with `password`.
    static func make(masterKey: [UInt8], password: [UInt8], cost: (n: UInt64, r: UInt64, p: UInt64)) throws -> KeyFile {
        let salt = SecureRandom.bytes(32)
        let wrapping = try Scrypt.deriveKey(password: password, salt: salt, n: cost.n, r: cost.r, p: cost.p, length: 32)
        let payload = try JSON.encode(Payload(encryption: Data(masterKey).base64EncodedString()), pretty: false)
        let sealed = try AESGCM.seal(payload, key: wrapping)
        return KeyFile(version: 1, created: Timestamp.format(Date()), host: Host.name, username: Host.userName,
                       kdf: "scrypt", n: cost.n, r: cost.r, p: cost.p,
                       salt: Data(salt).base64EncodedString(), data: Data(sealed).base64EncodedString())
    }

    /// The master key, or nil when `password` is not this key's password.
    func unwrap(password: [UInt8], what: String) throws -> [UInt8]? {
        guard kdf == "scrypt", n >= 2, n & (n - 1) == 0, r > 0, p > 0, n <= 1 << 24, r * p < 1 << 20 else {
            throw KuraError(.corrupt, "\(what) has unsupported key-derivation parameters (kdf \(kdf), N \(n), r \(r), p \(p))")
        }
        guard let salt = Data(base64Encoded: salt), let sealed = Data(base64Encoded: data) else {
            throw KuraError(.corrupt, "\(what) is not valid base64")
        }
        let wrapping = try Scrypt.deriveKey(password: password, salt: Array(salt), n: n, r: r, p: p, length: 32)
        guard let payload = try? AESGCM.open(Array(sealed), key: wrapping) else { return nil }
        let decoded = try JSON.decode(Payload.self, from: payload, what: what)
        guard let key = Data(base64Encoded: decoded.encryption), key.count == 32 else {
            throw KuraError(.corrupt, "\(what) holds a malformed master key")
        }
        return Array(key)
    }
}

/// Facts about this machine and user, recorded in keys, locks and snapshots.
public enum Host {
    public static var name: String {
        var buf = [UInt8](repeating: 0, count: 256)
        guard buf.withUnsafeMutableBufferPointer({ $0.withMemoryRebound(to: CChar.self) { gethostname($0.baseAddress!, 255) } }) == 0 else { return "localhost" }
        return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
    }
    public static var userName: String {
        if let pw = getpwuid(geteuid()), let n = pw.pointee.pw_name { return String(cString: n) }
        return String(geteuid())
    }
}
