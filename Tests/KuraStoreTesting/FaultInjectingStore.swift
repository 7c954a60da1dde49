import KuraStore
import Synchronization

/// An ``ObjectStore`` that makes `failures` of every `period` calls fail with a chosen error (by default
/// ``ObjectStoreError/Code/unavailable``, "the server failed one request in five"), and passes the rest
/// to its base store. Calls are numbered across all operations in the order they arrive; call *n*
/// (from 0) fails when `n % period < failures`.
///
/// With `after: true` a failing call first reaches the base store and only its answer is lost (the
/// write or delete happened, the caller hears it failed) — the harder case for a retrying client.
public final class FaultInjectingStore: ObjectStore {
    public let base: any ObjectStore
    public let failures: Int
    public let period: Int
    public let after: Bool
    private let error: @Sendable (_ operation: String, _ key: String) -> ObjectStoreError
    private let counters = Mutex((calls: 0, injected: 0))

    /// Fails `failures` of every `period` calls with `error` (default: `.unavailable`).
    public init(_ base: any ObjectStore, failing failures: Int, of period: Int, after: Bool = false,
                error: (@Sendable (_ operation: String, _ key: String) -> ObjectStoreError)? = nil) {
        precondition(period > 0 && (0...period).contains(failures))
        self.base = base
        self.failures = failures
        self.period = period
        self.after = after
        let location = base.location
        self.error = error ?? { operation, key in
            ObjectStoreError(.unavailable, key: key, location: location, message: "injected fault in \(operation): service unavailable")
        }
    }

    /// Calls made so far, and how many of them were made to fail.
    public var calls: (total: Int, injected: Int) { counters.withLock { ($0.calls, $0.injected) } }

    public var location: String { base.location }
    public var maxConcurrentRequests: Int { base.maxConcurrentRequests }
    public var isRemote: Bool { base.isRemote }

    public func put(_ key: String, data: [UInt8]) async throws {
        try await call("put", key) { try await base.put(key, data: data) }
    }

    public func delete(_ key: String) async throws {
        try await call("delete", key) { try await base.delete(key) }
    }

    public func get(_ key: String) async throws -> [UInt8] {
        try await call("get", key) { try await base.get(key) }
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try await call("get(range)", key) { try await base.get(key, range: range) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try await call("list", prefix) { try await base.list(prefix: prefix) }
    }

    public func stat(_ key: String) async throws -> ObjectInfo {
        try await call("stat", key) { try await base.stat(key) }
    }

    private func call<T>(_ operation: String, _ key: String, _ body: () async throws -> T) async throws -> T {
        let fail = counters.withLock { c -> Bool in
            let n = c.calls
            c.calls += 1
            let fail = n % period < failures
            if fail { c.injected += 1 }
            return fail
        }
        guard fail else { return try await body() }
        if after { _ = try? await body() }
        throw error(operation, key)
    }
}

/// An ``ObjectStore`` that counts the calls in flight at once (and the most there ever were), holding
/// each call for `delay` so that concurrent callers overlap: to measure a ``LimitedStore``.
public final class ConcurrencyProbeStore: ObjectStore {
    public let base: any ObjectStore
    public let delay: Duration
    private let counters = Mutex((inFlight: 0, peak: 0, calls: 0))

    public init(_ base: any ObjectStore, delay: Duration = .milliseconds(2)) {
        self.base = base
        self.delay = delay
    }

    /// The most calls that were ever in flight at once, and how many calls were made.
    public var observed: (peak: Int, calls: Int) { counters.withLock { ($0.peak, $0.calls) } }

    public var location: String { base.location }
    public var maxConcurrentRequests: Int { base.maxConcurrentRequests }

    public func put(_ key: String, data: [UInt8]) async throws { try await call { try await base.put(key, data: data) } }
    public func delete(_ key: String) async throws { try await call { try await base.delete(key) } }
    public func get(_ key: String) async throws -> [UInt8] { try await call { try await base.get(key) } }
    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] { try await call { try await base.get(key, range: range) } }
    public func list(prefix: String) async throws -> [ObjectInfo] { try await call { try await base.list(prefix: prefix) } }
    public func stat(_ key: String) async throws -> ObjectInfo { try await call { try await base.stat(key) } }

    private func call<T>(_ body: () async throws -> T) async throws -> T {
        counters.withLock { c in
            c.inFlight += 1
            c.calls += 1
            c.peak = max(c.peak, c.inFlight)
        }
        defer { counters.withLock { $0.inFlight -= 1 } }
        try await Task.sleep(for: delay)
        return try await body()
    }
}
