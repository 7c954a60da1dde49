import Foundation
import KuraCrypto
import KuraStore
import Synchronization

/// How a scope holds the repository (see ``Repository/withLock(_:_:)``).
public enum LockMode: String, Sendable, Codable {
    /// Backups, checks, records: many at once; no exclusive holder meanwhile.
    case shared
    /// gc, forget, repair, key removal: alone.
    case exclusive

    func covers(_ other: LockMode) -> Bool { self == .exclusive || other == .shared }
}

/// The rules for judging and keeping locks. `staleAfter` is what every lock promises: its holder
/// refreshes it well within that time, and gives up (commits nothing more) if it could not.
public struct LockTiming: Sendable, Equatable {
    /// A lock not refreshed for this long may be ignored and removed by others.
    public var staleAfter: Double
    /// How often a held lock is refreshed.
    public var refreshInterval: Double { staleAfter / 6 }
    /// A holder whose last successful refresh is older than this has lost its lock: it writes and
    /// commits nothing more. Leaves 1.5 refresh intervals of margin before others may judge it stale.
    public var lostAfter: Double { staleAfter - 1.5 * refreshInterval }

    public init(staleAfter: Double) { self.staleAfter = staleAfter }

    /// 30 minutes, or `KURA_LOCK_STALE_SECONDS` (for tests; at least 3 s).
    public static var current: LockTiming {
        if let text = ProcessInfo.processInfo.environment["KURA_LOCK_STALE_SECONDS"], let s = Double(text), s >= 3 {
            return LockTiming(staleAfter: s)
        }
        return LockTiming(staleAfter: 30 * 60)
    }
}

/// Who a process is, precisely enough to tell whether a lock's process still runs: a PID means
/// something only on the same machine (boot) and in the same PID namespace.
public struct ProcessIdentity: Sendable, Equatable {
    public var host: String
    /// `/proc/sys/kernel/random/boot_id`: changes with every boot.
    public var bootID: String?
    /// `readlink /proc/self/ns/pid`, e.g. `pid:[4026531836]`: differs inside a container or `unshare --pid`.
    public var pidNamespace: String?
    public var pid: Int32
    /// The process's start time in clock ticks since boot (`/proc/PID/stat` field 22): tells a reused PID apart.
    public var startTicks: UInt64?

    /// This process.
    public static var current: ProcessIdentity {
        let pid = getpid()
        return ProcessIdentity(host: Host.name, bootID: readTrimmed("/proc/sys/kernel/random/boot_id"),
                               pidNamespace: readLink("/proc/self/ns/pid"), pid: pid, startTicks: startTicks(of: pid))
    }

    /// The start time of a process of this namespace, nil if it does not exist (or /proc is not there).
    static func startTicks(of pid: Int32) -> UInt64? {
        guard let stat = readTrimmed("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After "pid (comm)": field 3 is the state, so field 22 is at offset 22 - 3.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    private static func readTrimmed(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), let s = String(data: data, encoding: .utf8) else { return nil }
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    private static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A `locks/<id>` object: who holds the repository and how. See docs/design.md §9.
public struct LockInfo: Codable, Sendable {
    public var time: String
    public var host: String
    public var username: String
    public var pid: Int32
    public var exclusive: Bool
    public var nonce: String
    /// Boot and PID namespace of the holder (absent in locks of older versions: then only age counts).
    public var bootID: String?
    public var pidNamespace: String?
    public var startTicks: UInt64?
    /// The holder's stale interval in seconds (absent: 30 minutes).
    public var staleAfter: Double?

    /// Why a lock may be ignored, or nil while it must be respected.
    ///
    /// Age decides always: a lock not refreshed within its stale interval is stale. The process
    /// decides only when it is provably the same machine (host name and boot id) and the same PID
    /// namespace: then a PID that no longer exists, or now belongs to a process started at another
    /// time, means the holder is gone. Anything else (another host, a container, another PID
    /// namespace, an older lock without these fields) is judged by age alone.
    public func staleReason(now: Date = Date(), judge: ProcessIdentity = .current) -> String? {
        let limit = staleAfter ?? 30 * 60
        let age = now.timeIntervalSince(Timestamp.parse(time) ?? .distantPast)
        if age > limit { return "not refreshed for \(Int(age)) s (stale after \(Int(limit)) s)" }
        guard host == judge.host, let boot = bootID, boot == judge.bootID,
              let ns = pidNamespace, ns == judge.pidNamespace else { return nil }
        if kill(pid, 0) != 0, errno == ESRCH { return "process \(pid) no longer runs on this host" }
        if let start = startTicks, let now = ProcessIdentity.startTicks(of: pid), now != start {
            return "process \(pid) on this host is a different process now"
        }
        return nil
    }

    public func isStale(now: Date = Date(), judge: ProcessIdentity = .current) -> Bool {
        staleReason(now: now, judge: judge) != nil
    }
}

/// A lock this process holds: its object in `locks/`, refreshed in the background. Only the
/// repository makes and releases these (through ``Repository/withLock(_:_:)``).
///
/// The lock is **lost** when it could not be refreshed within ``LockTiming/lostAfter`` (the process
/// was stopped, the machine suspended, the storage unreachable) or its object was removed by
/// someone who judged it stale. A lost lock is never refreshed again, and every write and commit
/// under it fails with `KuraError(.lockLost)`: others may already have deleted what this process wrote.
final class RepositoryLock: Sendable {
    /// How the lock is held.
    enum Kind: Sendable {
        /// A lock object in `locks/`.
        case file
        /// The storage refused the lock object (read-only or full): writes go on and meet the
        /// storage's own answer, so that gc can still free a full repository.
        case storageRefused
        /// `--no-lock`: reading only; writes are refused.
        case none
    }
    let repository: Repository
    let info: LockInfo
    let mode: LockMode
    let timing: LockTiming
    let kind: Kind
    /// nil: lock-less (read-only or full storage, or `--no-lock`).
    private let current: Mutex<String?>
    private struct Health { var lastRefresh: Date; var lost: String? }
    private let health: Mutex<Health>
    private let refresher: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let terminationToken: Mutex<Termination.Token?> = Mutex(nil)

    init(repository: Repository, key: String?, info: LockInfo, mode: LockMode, timing: LockTiming, kind: Kind = .file) {
        self.repository = repository
        self.info = info
        self.mode = mode
        self.timing = timing
        self.kind = kind
        self.current = Mutex(key)
        self.health = Mutex(Health(lastRefresh: Timestamp.parse(info.time) ?? Date(), lost: nil))
        guard key != nil else { return }
        let task = Task { [weak self, timing] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(timing.refreshInterval * 1000)))
                guard !Task.isCancelled, let self else { return }
                await self.refresh()
            }
        }
        refresher.withLock { $0 = task }
        // Killed by a signal: the lock is removed on the way out (see Termination).
        let token = Termination.register(.locks, what: "released the repository lock") { [weak self] in await self?.release() }
        terminationToken.withLock { $0 = token }
    }

    /// The lock object's key right now (nil when lock-less).
    var key: String? { current.withLock { $0 } }

    /// Why the lock is lost, or nil while it is held.
    func lostReason(now: Date = Date()) -> String? {
        health.withLock { h in
            if let lost = h.lost { return lost }
            guard key != nil else { return nil }
            let age = now.timeIntervalSince(h.lastRefresh)
            if age > timing.lostAfter {
                h.lost = "it was not refreshed for \(Int(age)) s (the process was stopped, the machine suspended or the storage unreachable); other processes may treat it as stale after \(Int(timing.staleAfter)) s"
                return h.lost
            }
            return nil
        }
    }

    /// Before a commit: throws `.lockLost` unless the lock is still held, by the clock and in the store
    /// (nobody removed the lock object).
    func ensureHeld() async throws {
        if let reason = lostReason() { throw Self.lostError(reason) }
        guard let key else { return }
        do { _ = try await repository.rawStore.stat(key) } catch let e as ObjectStoreError where e.code == .notFound {
            let reason = "its object \(key) was removed by another process (which judged it stale)"
            health.withLock { $0.lost = reason }
            throw Self.lostError(reason)
        } catch { throw Repository.storeError(error, doing: "checking the repository lock") }
        // The check itself took time: look at the clock again.
        if let reason = lostReason() { throw Self.lostError(reason) }
    }

    static func lostError(_ reason: String) -> KuraError {
        KuraError(.lockLost, "the repository lock was lost: \(reason); nothing more is committed by this run",
                  hint: "no snapshot was saved by this run; snapshots saved before are intact, and data already stored is reused by the next run")
    }

    func refresh() async {
        guard let old = key, lostReason() == nil else { return }
        // Nobody removed it? (Someone who judged it stale may have.)
        if (try? await repository.rawStore.stat(old)) == nil {
            health.withLock { $0.lost = "its object \(old) was removed by another process (which judged it stale)" }
            return
        }
        var fresh = info
        let now = Date()
        fresh.time = Timestamp.format(now)
        fresh.nonce = Hex.encode(SecureRandom.bytes(8))
        guard let sealed = try? repository.seal(try JSON.encode(fresh)),
              let id = try? await repository.putLockObject(sealed) else { return }
        // The write may have taken long (a stalled storage): judge by when it started.
        guard lostReason(now: now) == nil else {
            try? await repository.rawStore.delete("locks/\(id.hex)")
            return
        }
        current.withLock { $0 = "locks/\(id.hex)" }
        health.withLock { $0.lastRefresh = now }
        try? await repository.rawStore.delete(old)
    }

    func release() async {
        refresher.withLock { $0?.cancel() }
        if let token = terminationToken.withLock({ t -> Termination.Token? in let old = t; t = nil; return old }) {
            Termination.unregister(token)
        }
        if let key = current.withLock({ k -> String? in let old = k; k = nil; return old }) {
            try? await repository.rawStore.delete(key)
        }
    }
}

/// The writable store handed to a lock scope: every call first makes sure the lock is still held;
/// deletes need the exclusive lock (lock objects aside).
struct LockedStore: ObjectStore {
    let base: any ObjectStore
    let lock: RepositoryLock

    var location: String { base.location }
    var maxConcurrentRequests: Int { base.maxConcurrentRequests }
    func get(_ key: String) async throws -> [UInt8] { try await base.get(key) }
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8] { try await base.get(key, range: range) }
    func list(prefix: String) async throws -> [ObjectInfo] { try await base.list(prefix: prefix) }
    func stat(_ key: String) async throws -> ObjectInfo { try await base.stat(key) }

    func put(_ key: String, data: [UInt8]) async throws {
        try lock.writable(key)
        try await base.put(key, data: data)
    }

    func delete(_ key: String) async throws {
        guard lock.mode == .exclusive || key.hasPrefix("locks/") else {
            throw KuraError(.fatal, "internal error: deleting \(key) needs the exclusive repository lock")
        }
        try lock.writable(key)
        try await base.delete(key)
    }
}

extension RepositoryLock {
    /// Throws unless writing `key` is allowed now.
    func writable(_ key: String) throws {
        switch kind {
        case .file:
            if self.key == nil { throw KuraError(.fatal, "internal error: writing \(key) after the repository lock was released") }
        case .storageRefused: return
        case .none:
            throw KuraError(.invalidArgument, "writing \(key) needs a repository lock, and --no-lock was given",
                            hint: "--no-lock is for commands that only read (check, forget --dry-run, gc --dry-run); run without it")
        }
        if let reason = lostReason() { throw Self.lostError(reason) }
    }
}

/// The scope of a held lock: the repository, and the only writable store handle there is.
public struct LockScope: Sendable {
    public let repository: Repository
    public let mode: LockMode
    let lock: RepositoryLock
    /// The store, writable while the lock is held (deletes: exclusive scope only).
    public var store: any ObjectStore { LockedStore(base: repository.rawStore, lock: lock) }
}
