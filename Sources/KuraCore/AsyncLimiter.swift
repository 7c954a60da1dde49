import Synchronization

/// A weighted counting semaphore for async code: the backpressure of the ingest pipeline, and the
/// per-store request limit (`LimitedStore`). Lives in the leaf target so both can share the one copy.
/// `acquire(n)` waits until `n` units are free (a request larger than the capacity waits for all of
/// them); `release(n)` gives them back and wakes waiters in order.
public final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [(units: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }
    private let state: Mutex<State>
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        state = Mutex(State(available: capacity))
    }

    public func acquire(_ units: Int = 1) async {
        let n = min(units, capacity)
        let granted = state.withLock { s -> Bool in
            if s.waiters.isEmpty, s.available >= n { s.available -= n; return true }
            return false
        }
        if granted { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.waiters.isEmpty, s.available >= n { s.available -= n; return true }
                s.waiters.append((n, c))
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    public func release(_ units: Int = 1) {
        let n = min(units, capacity)
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { s in
            s.available += n
            var out: [CheckedContinuation<Void, Never>] = []
            while let first = s.waiters.first, s.available >= first.units {
                s.available -= first.units
                out.append(first.continuation)
                s.waiters.removeFirst()
            }
            return out
        }
        for c in ready { c.resume() }
    }

    /// Runs `body` holding `units`.
    public func withUnits<T: Sendable>(_ units: Int, _ body: () async throws -> T) async rethrows -> T {
        await acquire(units)
        defer { release(units) }
        return try await body()
    }
}
