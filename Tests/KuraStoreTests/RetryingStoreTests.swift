import Foundation
import KuraStore
import KuraStoreTesting
import Synchronization
import Testing
import KuraTestSupport

/// Records the waits a ``RetryingStore`` asks for, instead of waiting.
final class SleepRecorder: Sendable {
    private let waits = Mutex<[Duration]>([])
    var recorded: [Duration] { waits.withLock { $0 } }
    var sleep: @Sendable (Duration) async throws -> Void { { d in self.waits.withLock { $0.append(d) } } }
}

@Suite("RetryingStore")
struct RetryingStoreTests {
    static func failing(_ code: ObjectStoreError.Code, errno: Int32? = nil) -> @Sendable (String, String) -> ObjectStoreError {
        { op, key in ObjectStoreError(code, key: key, location: "memory", message: "injected \(code) in \(op)", errno: errno) }
    }

    @Test("a transient failure is retried until it succeeds; each retry is reported")
    func retriesTransient() async throws {
        let base = MemoryStore()
        try await base.put("k", data: [1, 2])
        let faulty = FaultInjectingStore(base, failing: 3, of: 4)   // calls 0, 1, 2 fail; 3 passes
        let sleeps = SleepRecorder()
        let events = Mutex<[StoreRetry]>([])
        let store = RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1)),
                                  onRetry: { e in events.withLock { $0.append(e) } }, sleep: sleeps.sleep, random: { 1 })
        #expect(try await store.get("k") == [1, 2])
        #expect(faulty.calls.total == 4)
        let seen = events.withLock { $0 }
        #expect(seen.map(\.failedAttempt) == [1, 2, 3])
        #expect(seen.allSatisfy { $0.operation == "get" && $0.key == "k" && $0.maxAttempts == 5 && $0.error.code == .unavailable })
        #expect(seen.first?.description.contains("attempt 1 of 5") == true)
        #expect(sleeps.recorded == [.milliseconds(100), .milliseconds(200), .milliseconds(400)], "exponential with random = 1")
    }

    @Test("attempts are bounded: the last error is thrown, saying how many attempts were made")
    func boundedAttempts() async throws {
        let faulty = FaultInjectingStore(MemoryStore(), failing: 1, of: 1)
        let sleeps = SleepRecorder()
        let store = RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(10), maxDelay: .seconds(1)),
                                  sleep: sleeps.sleep)
        let error = try await expectStoreError(.unavailable) { try await store.put("k", data: [1]) }
        #expect(faulty.calls.total == 4)
        #expect(sleeps.recorded.count == 3)
        #expect(error.message.contains("gave up after 4 attempts"), "\(error)")
        let never = FaultInjectingStore(MemoryStore(), failing: 1, of: 1)
        try await expectStoreError(.unavailable) { try await RetryingStore(never, policy: .never).stat("k") }
        #expect(never.calls.total == 1)
    }

    @Test("permanent errors are never retried",
          arguments: [ObjectStoreError.Code.notFound, .permissionDenied, .noSpace, .readOnly, .invalidKey, .alreadyExists,
                      .rangeNotSatisfiable])
    func permanentNotRetried(code: ObjectStoreError.Code) async throws {
        let faulty = FaultInjectingStore(MemoryStore(), failing: 1, of: 1, error: Self.failing(code))
        let store = RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 5, baseDelay: .zero), onRetry: { _ in Issue.record("retried \(code)") })
        try await expectStoreError(code) { try await store.put("k", data: [1]) }
        try await expectStoreError(code) { try await store.delete("k") }
        #expect(faulty.calls.total == 2)
    }

    @Test("io is retried without an errno or with a transient one, not with EIO or other permanent errnos")
    func ioClassification() async throws {
        #expect(RetryPolicy.isTransient(ObjectStoreError(.io, message: "http 500")))
        #expect(RetryPolicy.isTransient(ObjectStoreError(.io, message: "busy", errno: EBUSY)))
        #expect(RetryPolicy.isTransient(ObjectStoreError(.io, message: "again", errno: EAGAIN)))
        #expect(RetryPolicy.isTransient(ObjectStoreError(.io, message: "nfs", errno: ESTALE)))
        #expect(!RetryPolicy.isTransient(ObjectStoreError(.io, message: "disk", errno: EIO)))
        #expect(!RetryPolicy.isTransient(ObjectStoreError(.io, message: "loop", errno: ELOOP)))
        #expect(!RetryPolicy.isTransient(CancellationError()))
        struct Other: Error {}
        #expect(!RetryPolicy.isTransient(Other()))

        let eio = FaultInjectingStore(MemoryStore(), failing: 1, of: 1, error: Self.failing(.io, errno: EIO))
        try await expectStoreError(.io) { try await RetryingStore(eio, policy: RetryPolicy(maxAttempts: 5, baseDelay: .zero)).get("k") }
        #expect(eio.calls.total == 1)
        let busy = FaultInjectingStore(MemoryStore(), failing: 1, of: 2, error: Self.failing(.io, errno: EBUSY))
        try await expectStoreError(.notFound) { try await RetryingStore(busy, policy: RetryPolicy(maxAttempts: 5, baseDelay: .zero)).get("k") }
        #expect(busy.calls.total == 2, "EBUSY once, then the real answer")
    }

    @Test("backoff doubles from the base delay and never exceeds the maximum")
    func backoffBounded() {
        let policy = RetryPolicy(maxAttempts: 100, baseDelay: .milliseconds(250), maxDelay: .seconds(8))
        #expect((1...7).map { policy.delayCap(beforeRetry: $0) } ==
            [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8)])
        #expect(policy.delayCap(beforeRetry: 99) == .seconds(8), "no overflow after many retries")
        #expect(RetryPolicy(maxAttempts: 3, baseDelay: .seconds(3), maxDelay: .seconds(1)).delayCap(beforeRetry: 1) == .seconds(1))
        let standard = RetryPolicy.standard
        let total = (1..<standard.maxAttempts).map { standard.delayCap(beforeRetry: $0) }.reduce(Duration.zero, +)
        #expect(total <= .seconds(10), "the standard policy waits at most \(total) in all")
    }

    @Test("full jitter: every wait lies in 0 … cap, and they differ")
    func jitterWithinBounds() async throws {
        let sleeps = SleepRecorder()
        let policy = RetryPolicy(maxAttempts: 12, baseDelay: .milliseconds(50), maxDelay: .milliseconds(800))
        let faulty = FaultInjectingStore(MemoryStore(), failing: 1, of: 1)
        for _ in 0..<20 {
            try await expectStoreError(.unavailable) { try await RetryingStore(faulty, policy: policy, sleep: sleeps.sleep).list(prefix: "") }
        }
        let waits = sleeps.recorded
        #expect(waits.count == 20 * 11)
        for (i, wait) in waits.enumerated() {
            let cap = policy.delayCap(beforeRetry: i % 11 + 1)
            #expect(wait >= .zero && wait <= cap, "wait \(wait) for retry \(i % 11 + 1) above \(cap)")
        }
        #expect(Set(waits).count > 100, "random waits, not a fixed schedule")
        // The extremes of the random source give 0 and the cap exactly.
        let zero = SleepRecorder()
        try await expectStoreError(.unavailable) { try await RetryingStore(faulty, policy: policy, sleep: zero.sleep, random: { 0 }).stat("x") }
        #expect(zero.recorded.allSatisfy { $0 == .zero })
    }

    @Test("cancellation stops the retrying at once")
    func cancellation() async throws {
        let faulty = FaultInjectingStore(MemoryStore(), failing: 1, of: 1)
        let store = RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 1000, baseDelay: .seconds(300), maxDelay: .seconds(300)))
        let task = Task { try await store.get("k") }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: CancellationError.self) { try await task.value }
        // Without cancellation the first retry alone could wait up to 300 s; the bound leaves room for a
        // cooperative pool that the rest of the suite keeps busy (21 s was seen on a loaded 2-core machine).
        #expect(clock.now - start < .seconds(120))
        #expect(faulty.calls.total < 5)
    }

    @Test("a lost answer to a put or delete: the retry completes the operation")
    func lostAnswers() async throws {
        let base = MemoryStore()
        let faulty = FaultInjectingStore(base, failing: 1, of: 2, after: true)   // call 0 happens but "fails"
        let store = RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 3, baseDelay: .zero))
        try await store.put("k", data: [1, 2, 3])
        #expect(try await base.get("k") == [1, 2, 3])
        // Delete: the first attempt removes it and loses the answer; the retry finds it gone.
        let faulty2 = FaultInjectingStore(base, failing: 1, of: 2, after: true)
        let error = try await expectStoreError(.notFound) { try await RetryingStore(faulty2, policy: RetryPolicy(maxAttempts: 3, baseDelay: .zero)).delete("k") }
        #expect(error.key == "k")
        try await expectStoreError(.notFound) { try await base.stat("k") }
    }
}

@Suite("LimitedStore")
struct LimitedStoreTests {
    @Test("never more than the limit in flight, whatever the callers do", arguments: [1, 3, 8])
    func limit(n: Int) async throws {
        let probe = ConcurrencyProbeStore(MemoryStore(), delay: .milliseconds(3))
        let store = LimitedStore(probe, limit: n)
        #expect(store.maxConcurrentRequests == n)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    switch i % 4 {
                    case 0: try await store.put("k/\(i)", data: [UInt8(i)])
                    case 1: _ = try await store.list(prefix: "k/")
                    case 2: _ = try? await store.get("k/\(i - 2)")
                    default: _ = try? await store.stat("k/\(i - 3)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let observed = probe.observed
        #expect(observed.calls == 64)
        #expect(observed.peak <= n, "peak \(observed.peak) above the limit \(n)")
        #expect(observed.peak == n, "the limit is reached when 64 callers compete")
    }

    @Test("the default limit is the store's own; retries wait outside the limit")
    func defaultsAndOrder() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        #expect(LimitedStore(try LocalStore(path: scratch.path)).maxConcurrentRequests == 8)
        #expect(LimitedStore(MemoryStore()).maxConcurrentRequests == Int.max)
        // RetryingStore(LimitedStore(...)): a call sleeping before its retry does not hold the only slot.
        let faulty = FaultInjectingStore(MemoryStore(), failing: 1, of: 3)   // the first put of "k" fails
        let limited = LimitedStore(faulty, limit: 1)
        let gate = Mutex(0)
        let store = RetryingStore(limited, policy: RetryPolicy(maxAttempts: 3, baseDelay: .zero), sleep: { _ in
            gate.withLock { $0 += 1 }
            try await limited.put("other", data: [9])   // would deadlock if the failed attempt still held the slot
        })
        try await store.put("k", data: [1])
        #expect(gate.withLock { $0 } == 1)
        #expect(try await faulty.base.get("other") == [9])
    }
}
