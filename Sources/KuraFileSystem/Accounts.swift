#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Cached user and group name look-ups (both directions). The C look-ups are not thread-safe, so they
/// run under the cache's lock.
public final class Accounts: Sendable {
    private let cache = Mutex(Cache())
    private struct Cache {
        var users: [UInt32: String] = [:], groups: [UInt32: String] = [:]
        var uids: [String: UInt32?] = [:], gids: [String: UInt32?] = [:]
    }
    public init() {}

    public func userName(_ uid: UInt32) -> String {
        cache.withLock { c in
            if let n = c.users[uid] { return n }
            let name = getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? ""
            c.users[uid] = name
            return name
        }
    }

    public func groupName(_ gid: UInt32) -> String {
        cache.withLock { c in
            if let n = c.groups[gid] { return n }
            let name = getgrgid(gid).flatMap { $0.pointee.gr_name.map { String(cString: $0) } } ?? ""
            c.groups[gid] = name
            return name
        }
    }

    /// The uid of a user name on this system, if it exists.
    public func uid(named name: String) -> UInt32? {
        guard !name.isEmpty else { return nil }
        return cache.withLock { c in
            if let v = c.uids[name] { return v }
            let v = getpwnam(name).map { $0.pointee.pw_uid }
            c.uids[name] = v
            return v
        }
    }

    /// The gid of a group name on this system, if it exists.
    public func gid(named name: String) -> UInt32? {
        guard !name.isEmpty else { return nil }
        return cache.withLock { c in
            if let v = c.gids[name] { return v }
            let v = getgrnam(name).map { $0.pointee.gr_gid }
            c.gids[name] = v
            return v
        }
    }
}
