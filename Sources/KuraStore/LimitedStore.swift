import KuraCore

/// An ``ObjectStore`` that lets at most `limit` requests reach its base store at once; the others wait
/// their turn in order (restic's `backend/limiter` in kind). The limit is the base store's
/// ``ObjectReader/maxConcurrentRequests`` unless given.
///
/// Put it *inside* a ``RetryingStore`` (as ``StoreFactory`` does): a request waiting to be retried then
/// holds no slot.
public final class LimitedStore: ObjectStore {
    /// The store whose requests are limited.
    public let base: any ObjectStore
    private let limiter: AsyncLimiter

    /// Wraps `base`, allowing `limit` (default: `base.maxConcurrentRequests`) requests in flight.
    public init(_ base: any ObjectStore, limit: Int? = nil) {
        self.base = base
        limiter = AsyncLimiter(capacity: max(1, limit ?? base.maxConcurrentRequests))
    }

    public var location: String { base.location }
    /// The limit this store enforces.
    public var maxConcurrentRequests: Int { limiter.capacity }
    public var isRemote: Bool { base.isRemote }

    public func put(_ key: String, data: [UInt8]) async throws {
        try await limiter.withUnits(1) { try await base.put(key, data: data) }
    }

    public func delete(_ key: String) async throws {
        try await limiter.withUnits(1) { try await base.delete(key) }
    }

    public func get(_ key: String) async throws -> [UInt8] {
        try await limiter.withUnits(1) { try await base.get(key) }
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try await limiter.withUnits(1) { try await base.get(key, range: range) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try await limiter.withUnits(1) { try await base.list(prefix: prefix) }
    }

    public func stat(_ key: String) async throws -> ObjectInfo {
        try await limiter.withUnits(1) { try await base.stat(key) }
    }
}
