import KuraStore
import Synchronization

/// An ``ObjectStore`` that counts the calls its base store gets, by operation ("get", "get(range)",
/// "put", "delete", "list", "stat"), and can claim to be remote (`remote: true`), so that the layers
/// above take their remote-store paths over a memory store: to hold a command to a request budget.
public final class CountingStore: ObjectStore {
    public let base: any ObjectStore
    public let isRemote: Bool
    private let counts = Mutex([String: Int]())

    public init(_ base: any ObjectStore, remote: Bool = false) { self.base = base; self.isRemote = remote }

    /// Calls so far, by operation.
    public var calls: [String: Int] { counts.withLock { $0 } }
    /// Forgets the counts.
    public func reset() { counts.withLock { $0 = [:] } }

    public var location: String { base.location }
    public var maxConcurrentRequests: Int { base.maxConcurrentRequests }

    public func put(_ key: String, data: [UInt8]) async throws { count("put"); try await base.put(key, data: data) }
    public func delete(_ key: String) async throws { count("delete"); try await base.delete(key) }
    public func get(_ key: String) async throws -> [UInt8] { count("get"); return try await base.get(key) }
    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] { count("get(range)"); return try await base.get(key, range: range) }
    public func list(prefix: String) async throws -> [ObjectInfo] { count("list"); return try await base.list(prefix: prefix) }
    public func stat(_ key: String) async throws -> ObjectInfo { count("stat"); return try await base.stat(key) }

    private func count(_ operation: String) { counts.withLock { $0[operation, default: 0] += 1 } }
}
