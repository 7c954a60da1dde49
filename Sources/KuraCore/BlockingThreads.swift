import Foundation

/// Runs blocking work — `write` + `fsync` of a pack, a libcurl transfer, an SMTP session — on threads
/// of kura's own, never on Swift concurrency's cooperative pool.
///
/// On Linux the cooperative pool and every Dispatch queue share Dispatch's worker threads, one per
/// core: work sent to a `DispatchQueue` that blocks in the kernel (direct I/O, `fsync`, a socket)
/// takes a core's worker away from the hashing and sealing tasks for as long as it waits (measured in
/// `perf sched`: an initial backup ran on two threads in all, its pack writes included). These threads
/// are parked when idle and reused; a new one starts only when every existing one is busy, so the
/// number is bounded by the callers' own limits (eight local store operations, the S3 connection
/// limit, one notification at a time).
public enum BlockingThreads {
    /// Runs `body` on a blocking thread and returns its result.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            pool.submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    private static let pool = Pool()

    private final class Pool: @unchecked Sendable {
        private let condition = NSCondition()
        private var jobs: [@Sendable () -> Void] = []
        private var next = 0
        private var idle = 0
        private var started = 0

        func submit(_ job: @escaping @Sendable () -> Void) {
            condition.lock()
            jobs.append(job)
            // Each idle thread takes one waiting job: start a thread only when the waiting jobs outnumber them.
            if jobs.count - next <= idle {
                condition.signal()
                condition.unlock()
                return
            }
            started += 1
            let number = started
            condition.unlock()
            let thread = Thread { [self] in work() }
            thread.name = "kura-blocking-\(number)"
            thread.start()
        }

        private func work() {
            while true {
                condition.lock()
                while next == jobs.count {
                    idle += 1
                    condition.wait()
                    idle -= 1
                }
                let job = jobs[next]
                next += 1
                if next == jobs.count { jobs.removeAll(keepingCapacity: true); next = 0 }
                condition.unlock()
                job()
            }
        }
    }
}
