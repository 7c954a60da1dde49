import Dispatch

/// Runs blocking system calls (fsync above all) on Dispatch's threads instead of Swift's cooperative
/// pool, which has only one thread per core and must stay free for CPU work.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "kura.blocking-io", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
}
