#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a ``RetryingStore`` retries: how many attempts in all, and the bounds of the waits between them.
///
/// The wait before retry *n* (n = 1 after the first failure) is drawn uniformly from
/// `0 … min(maxDelay, baseDelay · 2^(n−1))` ("full jitter"): many clients that failed together do not
/// come back together, and no wait is longer than `maxDelay`.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included (1: never retry).
    public var maxAttempts: Int
    /// The cap of the first wait; each later cap doubles, up to ``maxDelay``.
    public var baseDelay: Duration
    /// The longest any single wait can be.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(8)) {
        precondition(maxAttempts >= 1, "at least one attempt")
        precondition(baseDelay >= .zero && maxDelay >= .zero, "delays are not negative")
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Six attempts, waits capped at 0.25 s, 0.5 s, 1 s, 2 s, 4 s (at most 7.75 s of waiting in all).
    public static let standard = RetryPolicy()
    /// One attempt: errors pass straight through.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The longest wait before retry `retry` (1 for the first): `min(maxDelay, baseDelay · 2^(retry−1))`.
    public func delayCap(beforeRetry retry: Int) -> Duration {
        var cap = baseDelay
        var n = 1
        while n < retry {
            if cap >= maxDelay { return maxDelay }
            cap = cap * 2
            n += 1
        }
        return min(cap, maxDelay)
    }

    /// Whether `error` may go away by itself, so that trying again makes sense:
    /// ``ObjectStoreError/Code/unavailable`` always; ``ObjectStoreError/Code/io`` when it has no `errno`
    /// (a failure reported by a service or a store's own logic) or a transient one (`EAGAIN`, `EBUSY`,
    /// `ETIMEDOUT`, `ESTALE`, `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, network errnos). Never for what the
    /// same request would meet again: notFound, alreadyExists, permissionDenied, noSpace, readOnly,
    /// invalidKey, rangeNotSatisfiable, an `EIO` from the disk, or any error that is not an
    /// ``ObjectStoreError`` (cancellation above all).
    public static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? ObjectStoreError else { return false }
        switch error.code {
        case .unavailable:
            return true
        case .io:
            guard let errno = error.errno else { return true }
            return transientErrnos.contains(errno)
        default:
            return false
        }
    }

    /// The `errno` values that describe a passing condition, not the request or the medium.
    static let transientErrnos: Set<Int32> = [
        EAGAIN, EWOULDBLOCK, EINTR, EBUSY, ETIMEDOUT, ESTALE, EMFILE, ENFILE, ENOBUFS, ENOMEM,
        ECONNRESET, ECONNABORTED, ECONNREFUSED, ENETDOWN, ENETUNREACH, ENETRESET, EHOSTUNREACH, EPIPE,
    ]
}

/// One retry a ``RetryingStore`` is about to make, for the caller's log.
public struct StoreRetry: Sendable, CustomStringConvertible {
    /// `get`, `get(range)`, `list`, `stat`, `put` or `delete`.
    public var operation: String
    /// The object (or list prefix).
    public var key: String
    /// The attempt that failed (1 for the first).
    public var failedAttempt: Int
    /// Attempts in all that the policy allows.
    public var maxAttempts: Int
    /// How long the store waits before the next attempt.
    public var delay: Duration
    /// What the failed attempt threw.
    public var error: ObjectStoreError

    public var description: String {
        "\(operation) \(ObjectStoreError.quoted(key)) failed (attempt \(failedAttempt) of \(maxAttempts)), retrying in "
            + "\(Self.seconds(delay)): \(error)"
    }

    static func seconds(_ d: Duration) -> String {
        let (s, atto) = d.components
        let ms = s * 1000 + atto / 1_000_000_000_000_000
        return ms < 1000 ? "\(ms) ms" : "\(Double(ms) / 1000) s"
    }
}

/// An ``ObjectStore`` that retries its base store's transient failures (``RetryPolicy/isTransient(_:)``)
/// with bounded exponential backoff and full jitter, restic's `backend/retry` in kind.
///
/// Every operation is safe to repeat: `put` replaces atomically, reads have no effect. A `delete` retried
/// after an attempt whose answer was lost may report ``ObjectStoreError/Code/notFound`` for an object
/// that attempt did remove; it is not turned into success, because the same answer also means "was never
/// there" — callers that delete already treat notFound as "gone". When the attempts run out the last
/// error is thrown, its message saying how many were made. Cancellation stops the waiting at once.
public final class RetryingStore: ObjectStore {
    /// The store whose calls are retried.
    public let base: any ObjectStore
    public let policy: RetryPolicy
    private let onRetry: (@Sendable (StoreRetry) -> Void)?
    private let sleep: @Sendable (Duration) async throws -> Void
    private let random: @Sendable () -> Double

    /// Wraps `base`. `onRetry` is told of every retry before its wait (to log it). `sleep` and `random`
    /// (a number in `0…1` that scales the wait's cap) are for tests.
    public init(_ base: any ObjectStore, policy: RetryPolicy = .standard,
                onRetry: (@Sendable (StoreRetry) -> Void)? = nil,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }) {
        self.base = base
        self.policy = policy
        self.onRetry = onRetry
        self.sleep = sleep
        self.random = random
    }

    public var location: String { base.location }
    public var maxConcurrentRequests: Int { base.maxConcurrentRequests }
    public var isRemote: Bool { base.isRemote }

    public func put(_ key: String, data: [UInt8]) async throws {
        try await retrying("put", key) { try await self.base.put(key, data: data) }
    }

    public func delete(_ key: String) async throws {
        try await retrying("delete", key) { try await self.base.delete(key) }
    }

    public func get(_ key: String) async throws -> [UInt8] {
        try await retrying("get", key) { try await self.base.get(key) }
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try await retrying("get(range)", key) { try await self.base.get(key, range: range) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try await retrying("list", prefix) { try await self.base.list(prefix: prefix) }
    }

    public func stat(_ key: String) async throws -> ObjectInfo {
        try await retrying("stat", key) { try await self.base.stat(key) }
    }

    private func retrying<T>(_ operation: String, _ key: String, _ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch {
                guard RetryPolicy.isTransient(error), var failure = error as? ObjectStoreError else { throw error }
                guard attempt < policy.maxAttempts else {
                    if attempt > 1 { failure.message += " (gave up after \(attempt) attempts)" }
                    throw failure
                }
                let fraction = min(max(random(), 0), 1)
                let delay = policy.delayCap(beforeRetry: attempt) * fraction
                onRetry?(StoreRetry(operation: operation, key: key, failedAttempt: attempt,
                                    maxAttempts: policy.maxAttempts, delay: delay, error: failure))
                try await sleep(delay)
                attempt += 1
            }
        }
    }
}
