import Foundation
import KuraCrypto
import KuraStore

/// A `locks/<id>` object: who holds the repository and how. Backups, restores and checks take shared
/// locks; operations that delete data take an exclusive lock.
public struct LockInfo: Codable, Sendable {
    public var time: String
    public var host: String
    public var username: String
    public var pid: Int32
    public var exclusive: Bool
    public var nonce: String

    /// A lock is stale when its process is gone (same host) or it was not refreshed for 30 minutes.
    public func isStale(now: Date = Date()) -> Bool {
        if now.timeIntervalSince(Timestamp.parse(time) ?? .distantPast) > 30 * 60 { return true }
        if host == Host.name, kill(pid, 0) != 0, errno == ESRCH { return true }
        return false
    }
}

/// A held lock. Call ``release()`` when done (it is also safe to leave a lock behind: it goes stale).
public final class RepositoryLock: Sendable {
    let repository: Repository
    public let key: String
    public let info: LockInfo
    init(repository: Repository, key: String, info: LockInfo) { self.repository = repository; self.key = key; self.info = info }

    public func release() async {
        try? await repository.store.delete(key)
    }
}

extension Repository {
    /// Reads all locks, skipping unreadable ones.
    public func listLocks() async throws -> [(key: String, info: LockInfo)] {
        let infos: [ObjectInfo]
        do { infos = try await store.list(prefix: "locks/") } catch { throw Repository.storeError(error, doing: "listing locks") }
        var out: [(String, LockInfo)] = []
        for i in infos {
            guard let stored = try? await store.get(i.key), let plain = try? open(stored, what: i.key),
                  let info = try? JSON.decode(LockInfo.self, from: plain, what: i.key) else { continue }
            out.append((i.key, info))
        }
        return out
    }

    /// Takes a lock. Throws `KuraError(.locked)` when a live lock conflicts (an exclusive lock, or any
    /// lock when `exclusive`). Stale locks are ignored (and reported through `warn`).
    public func lock(exclusive: Bool, warn: (String) -> Void = { _ in }) async throws -> RepositoryLock {
        try await checkLockConflicts(exclusive: exclusive, ownKey: nil, warn: warn)
        let info = LockInfo(time: Timestamp.format(Date()), host: Host.name, username: Host.userName,
                            pid: getpid(), exclusive: exclusive, nonce: Hex.encode(SecureRandom.bytes(8)))
        let id = try await putNamedByContent(folder: "locks", try seal(try JSON.encode(info)))
        let lock = RepositoryLock(repository: self, key: "locks/\(id.hex)", info: info)
        // Someone may have locked at the same moment: look again, and back off if we conflict.
        do { try await checkLockConflicts(exclusive: exclusive, ownKey: lock.key, warn: { _ in }) } catch {
            await lock.release(); throw error
        }
        return lock
    }

    private func checkLockConflicts(exclusive: Bool, ownKey: String?, warn: (String) -> Void) async throws {
        for (key, info) in try await listLocks() where key != ownKey {
            guard exclusive || info.exclusive else { continue }
            if info.isStale() {
                warn("ignoring stale lock \(key) (pid \(info.pid) on \(info.host), \(info.time))")
                continue
            }
            throw KuraError(.locked, "the repository is locked \(info.exclusive ? "exclusively" : "") by pid \(info.pid) on \(info.host) since \(info.time)",
                            hint: "wait for that run to finish; if it died, `kura unlock` removes stale locks")
        }
    }
}
