import Foundation
import KuraStore
import KuraStoreTesting
import KuraTestSupport

/// The stores the conformance suite (``ObjectStoreConformance`` in KuraStoreTesting) runs against, each
/// able to make a fresh, empty store: every implementation, and every wrapper over each of them.
///
/// Adding a store means adding a case and its branch in ``makeStore()``. A store that needs outside
/// configuration (the S3 store: endpoint, bucket, credentials from the environment) should make a unique
/// key prefix or bucket per call, and be left out of ``allCases`` when it is not configured, e.g.
/// `static var allCases: [StoreKind] { [.memory, .local] + (S3TestConfig.fromEnvironment == nil ? [] : [.s3]) }`.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    case local
    case retryingMemory
    case retryingLocal
    case limitedMemory
    case limitedLocal
    /// What every command gets: `StoreFactory.open` of a folder (retrying, limited, local).
    case factoryLocal
    /// A retrying store over a memory store that fails one call in three with `.unavailable`.
    case retryingOverFaultyMemory
    /// A retrying store over a local store that fails two calls in five with `.unavailable`.
    case retryingOverFaultyLocal
    /// The S3 store against moto behind the signature-checking proxy (``S3TestServer/shared``), with
    /// retries of transient errors only: moto answers HTTP 500 to some concurrent puts of one key (S3 may
    /// answer 500/503 at any time too; every opened store retries them).
    case s3
    /// `StoreFactory.open` of an S3 location (retrying, limited) whose server answers one request in five
    /// with 503 SlowDown and resets one connection in seven.
    case factoryS3OverFaultyServer

    var description: String { rawValue }

    /// Enough attempts that a call meeting injected faults (at most 2 in a row per 5 calls when alone,
    /// more when concurrent calls take the passing turns) practically always gets through; no waiting.
    static let faultTolerant = RetryPolicy(maxAttempts: 40, baseDelay: .zero, maxDelay: .zero)

    /// The test server's key, given directly (not through the process environment).
    static let s3Options = S3Options(credentials: S3Credentials(accessKeyID: S3TestServer.accessKey,
                                                                secretAccessKey: S3TestServer.secretKey))

    /// A server of its own for the fault-injecting kind (faults would disturb the shared one's users).
    static let faultyServer = Result { () throws -> S3TestServer in
        let server = try S3TestServer()
        try server.setFaults(failEvery: 5, resetEvery: 7)
        return server
    }

    /// A fresh, empty store of this kind.
    func makeStore() throws -> StoreFixture {
        func local() throws -> (LocalStore, @Sendable () -> Void) {
            let scratch = try TemporaryFolder("kura-store-tests")
            return (try LocalStore(path: scratch.path + "/store", create: true), { scratch.remove() })
        }
        switch self {
        case .memory:
            return StoreFixture(store: MemoryStore(), tearDown: {})
        case .local:
            let (store, tearDown) = try local()
            return StoreFixture(store: store, tearDown: tearDown)
        case .retryingMemory:
            return StoreFixture(store: RetryingStore(MemoryStore()), tearDown: {})
        case .retryingLocal:
            let (store, tearDown) = try local()
            return StoreFixture(store: RetryingStore(store), tearDown: tearDown)
        case .limitedMemory:
            return StoreFixture(store: LimitedStore(MemoryStore(), limit: 3), tearDown: {})
        case .limitedLocal:
            let (store, tearDown) = try local()
            return StoreFixture(store: LimitedStore(store), tearDown: tearDown)
        case .factoryLocal:
            let scratch = try TemporaryFolder("kura-store-tests")
            return StoreFixture(store: try StoreFactory.open(scratch.path + "/store", create: true), tearDown: { scratch.remove() })
        case .retryingOverFaultyMemory:
            return StoreFixture(store: RetryingStore(FaultInjectingStore(MemoryStore(), failing: 1, of: 3), policy: Self.faultTolerant),
                                tearDown: {})
        case .retryingOverFaultyLocal:
            let (store, tearDown) = try local()
            return StoreFixture(store: RetryingStore(FaultInjectingStore(store, failing: 2, of: 5), policy: Self.faultTolerant),
                                tearDown: tearDown)
        case .s3:
            let server = try S3TestServer.shared
            let location = try S3Location(parsing: server.location(prefix: S3TestServer.uniquePrefix()))
            let retry = RetryPolicy(maxAttempts: 6, baseDelay: .milliseconds(10), maxDelay: .milliseconds(100))
            return StoreFixture(store: RetryingStore(try S3Store(location, options: Self.s3Options), policy: retry), tearDown: {})
        case .factoryS3OverFaultyServer:
            let server = try Self.faultyServer.get()
            let options = StoreOptions(retry: Self.faultTolerant, s3: Self.s3Options)
            return StoreFixture(store: try StoreFactory.open(server.location(prefix: S3TestServer.uniquePrefix()), options: options),
                                tearDown: {})
        }
    }

    /// Runs `body` with a fresh, empty store of this kind, disposing of it afterwards.
    func withStore(_ body: (any ObjectStore) async throws -> Void) async throws {
        let fixture = try makeStore()
        defer { fixture.tearDown() }
        try await body(fixture.store)
    }
}

/// A store made for one test, and how to dispose of it.
struct StoreFixture: Sendable {
    let store: any ObjectStore
    let tearDown: @Sendable () -> Void
}
