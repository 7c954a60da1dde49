import Foundation
import KuraCrypto
import KuraStore
import Synchronization

/// Keeps the lock a `Repository` instance holds, shared by nested and concurrent scopes of the same
/// instance: the first scope takes it, the last one out releases it.
final class LockKeeper: Sendable {
    struct Held: Sendable { let lock: RepositoryLock; var users: Int }
    let held = Mutex<Held?>(nil)
    /// Serialises taking and releasing (each takes storage round trips).
    let gate = AsyncLimiter(capacity: 1)
    /// `--no-lock`: scopes run without a lock object and may not write.
    let disabled = Mutex(false)
    /// Where stale-lock notices and lock-less warnings go.
    let warn = Mutex<@Sendable (String) -> Void>({ _ in })
}

extension Repository {
    /// Key prefixes of the objects a repository deletes under a shared lock (its lock objects): storage
    /// that keeps objects from deletion (an S3 Object Lock retention) must leave these removable.
    public static let removableKeyPrefixes = ["locks/"]
    /// Where the repository's warnings go (stale locks ignored, running without a lock). Set once by
    /// the front end after opening; the default drops them.
    public func setWarningHandler(_ handler: @escaping @Sendable (String) -> Void) {
        locks.warn.withLock { $0 = handler }
    }

    func warn(_ text: String) { locks.warn.withLock { $0 }(text) }

    /// `--no-lock`: lock scopes take no lock object (reading only; a write fails). Say what that cannot
    /// guarantee: a concurrent gc may delete what is being read, so errors may be false alarms.
    public func disableLocking() { locks.disabled.withLock { $0 = true } }

    /// Runs `body` while this process holds the repository lock in `mode`; the only way to write to or
    /// delete from the repository.
    ///
    /// Nested and concurrent scopes of the same `Repository` share one lock (a shared scope inside an
    /// exclusive one is fine; an exclusive scope inside a shared one is a programming error). Conflicts
    /// throw `KuraError(.locked)` (exit 11); a lock lost while `body` runs makes its writes and
    /// commits throw `KuraError(.lockLost)`. Released when the last scope ends, also on error and
    /// (through `Termination`) on SIGINT/SIGTERM.
    @discardableResult
    public func withLock<T: Sendable>(_ mode: LockMode, _ body: (LockScope) async throws -> T) async throws -> T {
        let lock = try await enterLock(mode)
        do {
            let result = try await body(LockScope(repository: self, mode: mode, lock: lock))
            await leaveLock()
            return result
        } catch {
            // The repository owns its write state: a failed backup leaves no claims or uploads behind
            // for the next one in this process.
            await settleAfterFailure()
            await leaveLock()
            throw error
        }
    }

    private func enterLock(_ mode: LockMode) async throws -> RepositoryLock {
        await locks.gate.acquire(1)
        defer { locks.gate.release(1) }
        if let lock = locks.held.withLock({ h -> RepositoryLock? in
            guard var held = h else { return nil }
            held.users += 1
            h = held
            return held.lock
        }) {
            guard lock.mode.covers(mode) else {
                locks.held.withLock { $0?.users -= 1 }
                throw KuraError(.fatal, "internal error: an exclusive lock was asked for inside a shared lock scope")
            }
            return lock
        }
        let lock = try await acquireLock(mode)
        locks.held.withLock { $0 = LockKeeper.Held(lock: lock, users: 1) }
        // While no lock was held, another process may have run gc: an index loaded before must not
        // vouch for blobs any more. It is read again (cheaply, through the local cache).
        if forgetLoadedIndexIfIdle() {
            do { try await loadIndex() } catch {
                await lock.release()
                locks.held.withLock { $0 = nil }
                throw error
            }
        }
        return lock
    }

    private func leaveLock() async {
        await locks.gate.acquire(1)
        defer { locks.gate.release(1) }
        let last = locks.held.withLock { h -> RepositoryLock? in
            guard var held = h else { return nil }
            held.users -= 1
            if held.users > 0 { h = held; return nil }
            h = nil
            return held.lock
        }
        await last?.release()
    }

    /// The lock this instance holds right now, if any (for the write guard).
    var heldLock: RepositoryLock? { locks.held.withLock { $0?.lock } }

    /// The writable store for an internal write of `key`: only under a held lock.
    func writableStore(for key: String) throws -> any ObjectStore {
        guard let lock = heldLock else {
            throw KuraError(.fatal, "internal error: writing \(key) without holding the repository lock",
                            hint: "this is a bug in kura: every write must go through Repository.withLock")
        }
        return LockedStore(base: rawStore, lock: lock)
    }

    /// Before a commit (a snapshot): the lock must still be ours, checked against the store.
    func ensureLockForCommit(_ what: String) async throws {
        guard let lock = heldLock else {
            throw KuraError(.fatal, "internal error: committing \(what) without holding the repository lock")
        }
        try await lock.ensureHeld()
    }

    /// Writes a lock object (named by content) straight to the store.
    func putLockObject(_ sealed: [UInt8]) async throws -> BlobID {
        let id = BlobID(bytes: SHA256.hash(sealed))
        do { try await rawStore.put("locks/\(id.hex)", data: sealed) } catch { throw Repository.storeError(error, doing: "writing locks/\(id.hex)") }
        return id
    }

    private func acquireLock(_ mode: LockMode) async throws -> RepositoryLock {
        let timing = LockTiming.current
        let me = ProcessIdentity.current
        let info = LockInfo(time: Timestamp.format(Date()), host: me.host, username: Host.userName, pid: me.pid,
                            exclusive: mode == .exclusive, nonce: Hex.encode(SecureRandom.bytes(8)),
                            bootID: me.bootID, pidNamespace: me.pidNamespace, startTicks: me.startTicks, staleAfter: timing.staleAfter)
        if locks.disabled.withLock({ $0 }) {
            warn("running without a lock (--no-lock): a gc or forget running at the same time may delete what this command reads, so a problem it reports may be a false alarm; nothing is written")
            return RepositoryLock(repository: self, key: nil, info: info, mode: mode, timing: timing, kind: .none)
        }
        try await checkLockConflicts(mode, ownKey: nil, judge: me)
        let id: BlobID
        do { id = try await putLockObject(try seal(try JSON.encode(info))) } catch let e as KuraError where e.code == .noSpace || e.code == .readOnly {
            // A read-only or full repository: no other kura can be writing to it either (a read-only one
            // not at all, a full one not successfully). Go on without a lock file, so that check, forget
            // and gc (the way out of a full repository) still work; the conflicts were checked above.
            warn("could not write a lock file (\(e.code == .noSpace ? "the storage is full" : "the repository is read-only")); continuing without one — make sure no other kura uses this repository")
            return RepositoryLock(repository: self, key: nil, info: info, mode: mode, timing: timing, kind: .storageRefused)
        }
        let lock = RepositoryLock(repository: self, key: "locks/\(id.hex)", info: info, mode: mode, timing: timing)
        // Someone may have locked at the same moment: look again, and back off if we conflict.
        do { try await checkLockConflicts(mode, ownKey: "locks/\(id.hex)", judge: me, quiet: true) } catch {
            await lock.release(); throw error
        }
        return lock
    }

    private func checkLockConflicts(_ mode: LockMode, ownKey: String?, judge: ProcessIdentity, quiet: Bool = false) async throws {
        for (key, info) in try await listLocks() where key != ownKey {
            guard mode == .exclusive || info.exclusive else { continue }
            if let reason = info.staleReason(judge: judge) {
                if !quiet { warn("ignoring stale lock \(key) (pid \(info.pid) on \(info.host), \(info.time)): \(reason)") }
                continue
            }
            throw KuraError(.locked, "the repository is locked\(info.exclusive ? " exclusively" : "") by pid \(info.pid) on \(info.host) since \(info.time)",
                            hint: "wait for that run to finish; if it died, `kura unlock` removes stale locks (a lock goes stale \(Int(info.staleAfter ?? 1800)) s after its last refresh, or at once when its process is provably gone)")
        }
    }

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

    /// Removes stale locks (or, with `all`, every lock but this process's own). Returns the keys removed.
    public func removeLocks(all: Bool) async throws -> [String] {
        var removed: [String] = []
        let listing: [ObjectInfo]
        do { listing = try await store.list(prefix: "locks/") } catch { throw Repository.storeError(error, doing: "listing locks") }
        let readable = Dictionary(try await listLocks().map { ($0.key, $0.info) }, uniquingKeysWith: { a, _ in a })
        let own = heldLock?.key
        for info in listing where info.key != own {
            // An unreadable lock object is garbage (damaged, or another repository's key): stale.
            let stale = readable[info.key]?.isStale() ?? true
            if all || stale {
                do { try await rawStore.delete(info.key) } catch { throw Repository.storeError(error, doing: "removing \(info.key)") }
                removed.append(info.key)
            }
        }
        return removed
    }
}
