import Foundation
import KuraProcess
import KuraRepository

/// Runs `before`/`after` hooks: `/bin/sh -c COMMAND` with a timeout, kura's environment minus its
/// secrets plus `KURA_SOURCE`, `KURA_HOOK` (before/after) and, for `after`, `KURA_RESULT`
/// (success/failure) and `KURA_SNAPSHOT`. Output is kept (last lines) for the log and the report.
///
/// The shell runs through ``ProcessRunner``: its own process group, every signal at its default, its
/// output (standard output and error as one stream) read only until the shell ends — a daemon the
/// hook started (`pg_ctl start`, `cmd &`) may keep the pipe open without holding the hook up — and on
/// timeout the whole group gets SIGTERM, then SIGKILL.
public enum HookRunner {
    public struct Outcome: Sendable {
        public var status: Int32
        public var timedOut: Bool
        public var output: [String]
        public var succeeded: Bool { !timedOut && status == 0 }
    }

    public static func run(_ hook: Hook, environment extra: [String: String]) async -> Outcome {
        let command = ChildCommand(["/bin/sh", "-c", hook.command], environment: extra, timeout: .seconds(hook.timeoutSeconds),
                                   stderrTailBytes: 16_384, mergeStderrIntoStdout: true)
        do {
            let (_, result) = try await ProcessRunner.stream(command) { output in
                for try await _ in output {}  // the runner keeps the last 16 KiB
            }
            return Outcome(status: result.status.shellCode, timedOut: false, output: lines(result.stderrTail))
        } catch let e as KuraError where e.code == .timedOut {
            return Outcome(status: -1, timedOut: true, output: [])
        } catch let e as KuraError where e.code == .interrupted {
            return Outcome(status: 130, timedOut: false, output: [e.message])  // kura is stopping
        } catch {
            return Outcome(status: 127, timedOut: false, output: ["cannot start /bin/sh: \(KuraError.from(error).message)"])
        }
    }

    /// The last 20 lines, control bytes escaped.
    static func lines(_ bytes: [UInt8]) -> [String] {
        OutputEscaping.escape(bytes).split(separator: "\n").suffix(20).map(String.init)
    }
}

/// Runs blocking work (socket I/O, waiting for a child) on a Dispatch thread, so that it never holds
/// one of the few threads of Swift's cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        DispatchQueue.global().async {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
    }
}
