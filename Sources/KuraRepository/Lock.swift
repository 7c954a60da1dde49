import Foundation
import KuraCrypto
import KuraStore
import Synchronization

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

/// A held lock. It is refreshed every five minutes while held (a new lock object replaces the old, so
/// other processes never see it as stale); call ``release()`` when done. A lock left behind by a
/// killed process goes stale on its own.
public final class RepositoryLock: Sendable {
    let repository: Repository
    public let info: LockInfo
    private let current: Mutex<String?>
    private let refresher: Mutex<Task<Void, Never>?> = Mutex(nil)
    static let refreshInterval: Duration = .seconds(300)

    init(repository: Repository, key: String?, info: LockInfo) {
        self.repository = repository
        self.info = info
        self.current = Mutex(key)
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: RepositoryLock.refreshInterval)
                guard !Task.isCancelled, let self else { return }
                await self.refresh()
            }
        }
        refresher.withLock { $0 = task }
    }

    /// The lock object's key right now.
    public var key: String? { current.withLock { $0 } }

    func refresh() async {
        guard let old = key else { return }
        var fresh = info
        fresh.time = Timestamp.format(Date())
        fresh.nonce = Hex.encode(SecureRandom.bytes(8))
        guard let sealed = try? repository.seal(try JSON.encode(fresh)),
              let id = try? await repository.putNamedByContent(folder: "locks", sealed) else { return }
        current.withLock { $0 = "locks/\(id.hex)" }
        try? await repository.store.delete(old)
    }

    public func release() async {
        refresher.withLock { $0?.cancel() }
        if let key = current.withLock({ k -> String? in let old = k; k = nil; return old }) {
            try? await repository.store.delete(key)
        }
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
        let id: BlobID
        do { id = try await putNamedByContent(folder: "locks", try seal(try JSON.encode(info))) } catch let e as KuraError
            where e.code == .noSpace || (e.code == .permissionDenied && e.message.contains("read-only")) {
            // A read-only or full repository: no other kura can be writing to it either (a read-only one
            // not at all, a full one not successfully). Go on without a lock file, so that check, forget
            // and gc (the way out of a full repository) still work; the conflicts were checked above.
            warn("could not write a lock file (\(e.code == .noSpace ? "the storage is full" : "the repository is read-only")); continuing without one — make sure no other kura uses this repository")
            return RepositoryLock(repository: self, key: nil, info: info)
        }
        let lock = RepositoryLock(repository: self, key: "locks/\(id.hex)", info: info)
        // Someone may have locked at the same moment: look again, and back off if we conflict.
        do { try await checkLockConflicts(exclusive: exclusive, ownKey: "locks/\(id.hex)", warn: { _ in }) } catch {
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

extension Repository {
    /// Removes stale locks (or, with `all`, every lock). Returns the keys removed.
    public func removeLocks(all: Bool) async throws -> [String] {
        var removed: [String] = []
        let listing = try await store.list(prefix: "locks/")
        let readable = Dictionary(try await listLocks().map { ($0.key, $0.info) }, uniquingKeysWith: { a, _ in a })
        for info in listing {
            // An unreadable lock object is garbage (damaged, or another repository's key): stale.
            let stale = readable[info.key]?.isStale() ?? true
            if all || stale {
                try? await store.delete(info.key)
                removed.append(info.key)
            }
        }
        return removed
    }
}
