import Foundation

/// Runs blocking work (a libcurl transfer, waiting for a child process) on a thread of its own, so
/// that it never holds one of Swift concurrency's few cooperative threads for the seconds a slow mail
/// server or a time-out can take.
enum BlockingThread {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.name = "kura-notify"
            thread.start()
        }
    }
}
