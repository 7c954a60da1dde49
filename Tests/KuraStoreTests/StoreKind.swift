import Foundation
import KuraStore
import KuraTestSupport

/// The stores the conformance suite (``ObjectStoreConformance``) runs against, each able to make a fresh,
/// empty store.
///
/// Adding a store means adding a case and its branch in ``makeStore()``. A store that needs outside
/// configuration (the S3 store: endpoint, bucket, credentials from the environment) should make a unique
/// key prefix or bucket per call, and be left out of ``allCases`` when it is not configured, e.g.
/// `static var allCases: [StoreKind] { [.memory, .local] + (S3TestConfig.fromEnvironment == nil ? [] : [.s3]) }`.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    case local

    var description: String { rawValue }

    /// A fresh, empty store of this kind.
    func makeStore() throws -> StoreFixture {
        switch self {
        case .memory:
            return StoreFixture(store: MemoryStore(), tearDown: {})
        case .local:
            let scratch = try TemporaryFolder("kura-store-tests")
            return StoreFixture(store: try LocalStore(path: scratch.path + "/store", create: true),
                                tearDown: { scratch.remove() })
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
