import KuraStore
import KuraStoreTesting
import Testing

/// The shared conformance suite (KuraStoreTesting) against every store and wrapper in ``StoreKind``.
@Suite("ObjectStore conformance")
struct ConformanceTests {
    @Test("every store passes every conformance check", arguments: StoreKind.allCases, ObjectStoreConformance.allCases)
    func conformance(kind: StoreKind, check: ObjectStoreConformance) async throws {
        try await kind.withStore { store in try await check.run(on: store) }
    }

    @Test("the faulty stores really fail: the retrying store hid the injected faults")
    func faultsWereInjected() async throws {
        let faulty = FaultInjectingStore(MemoryStore(), failing: 1, of: 3)
        let store = RetryingStore(faulty, policy: StoreKind.faultTolerant)
        for check in ObjectStoreConformance.allCases where check != .largeObject {
            let fresh = RetryingStore(FaultInjectingStore(MemoryStore(), failing: 1, of: 3), policy: StoreKind.faultTolerant)
            try await check.run(on: fresh)
        }
        try await ObjectStoreConformance.roundTrip.run(on: store)
        let calls = faulty.calls
        #expect(calls.injected > 0)
        #expect(calls.injected * 3 >= calls.total - 2, "one call in three fails: \(calls)")
    }
}
