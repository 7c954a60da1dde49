import Foundation
import Synchronization

/// What must happen before the process ends early (SIGINT, SIGTERM, SIGHUP): stop child processes,
/// release repository locks, say what was saved.
///
/// Owners of a resource register a clean-up action for as long as they hold it (the process runner for
/// each child's process group, the repository for each lock it holds) and unregister it when the
/// resource is gone. The program's entry point installs the signal handlers (``installSignalHandlers(onSignal:)``)
/// once; libraries never install handlers themselves. Actions run concurrently and are bounded in time:
/// a hung storage cannot keep the process alive.
public enum Termination {
    /// A registered action; pass it to ``unregister(_:)``.
    public struct Token: Hashable, Sendable { let id: UInt64 }

    /// What a registered action is for, in the order the actions run: children first (so nothing
    /// writes any more), then locks.
    public enum Stage: Int, Sendable, Comparable {
        case children = 0
        case locks = 1
        public static func < (a: Stage, b: Stage) -> Bool { a.rawValue < b.rawValue }
    }

    private struct Entry: Sendable {
        var stage: Stage
        var what: String
        var action: @Sendable () async -> Void
    }

    private static let state = Mutex<(next: UInt64, entries: [UInt64: Entry], signal: Int32?)>((1, [:], nil))

    /// Registers `action` to run if the process is told to stop. `what` names it for the message
    /// ("released the repository lock").
    @discardableResult
    public static func register(_ stage: Stage, what: String, _ action: @escaping @Sendable () async -> Void) -> Token {
        state.withLock { s in
            let id = s.next
            s.next += 1
            s.entries[id] = Entry(stage: stage, what: what, action: action)
            return Token(id: id)
        }
    }

    /// Removes an action (the resource was released the normal way).
    public static func unregister(_ token: Token) {
        _ = state.withLock { $0.entries.removeValue(forKey: token.id) }
    }

    /// The signal that started termination, if one did. Long loops may check it to stop early.
    public static var receivedSignal: Int32? { state.withLock { $0.signal } }

    /// Runs every registered action, stage by stage, each stage bounded by `timeout` seconds.
    /// Returns the descriptions of the actions that were run.
    public static func runAll(timeout: Double = 10) async -> [String] {
        let entries = state.withLock { s -> [Entry] in
            let all = Array(s.entries.values)
            s.entries.removeAll()
            return all
        }
        var done: [String] = []
        for stage in [Stage.children, .locks] {
            let batch = entries.filter { $0.stage == stage }
            guard !batch.isEmpty else { continue }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await withTaskGroup(of: Void.self) { inner in
                        for e in batch { inner.addTask { await e.action() } }
                    }
                }
                group.addTask { try? await Task.sleep(for: .seconds(timeout)) }
                await group.next()
                group.cancelAll()
            }
            done += batch.map(\.what)
        }
        return done
    }

    /// When the first signal arrived (uptime nanoseconds); written and read on the signal queue only.
    nonisolated(unsafe) private static var firstSignalAt: UInt64 = 0

    /// Kept alive for the life of the process (a released dispatch source stops delivering).
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Installs handlers for SIGINT, SIGTERM and SIGHUP (SIGPIPE is ignored). On the first signal the
    /// registered actions run, then `onSignal(signal, actions)` is called, which should print what
    /// happened and exit. A second signal while that runs ends the process at once (the same signal
    /// again within a second counts as the same event: see the handler).
    public static func installSignalHandlers(onSignal: @escaping @Sendable (Int32, [String]) -> Never) {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "kura.signals")
        var made: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                let now = DispatchTime.now().uptimeNanoseconds
                let first = state.withLock { s -> Bool? in
                    if s.signal != nil {
                        // The same signal again within a second is one event delivered twice (GNU timeout
                        // signals kura, then its own process group; a terminal's Ctrl-C reaches the whole
                        // foreground group): ignore it, or kura would exit before stopping its children.
                        return now - firstSignalAt < 1_000_000_000 && s.signal == sig ? nil : false
                    }
                    s.signal = sig
                    firstSignalAt = now
                    return true
                }
                guard let first else { return }
                guard first else { _exit(128 + sig) }
                Task.detached {
                    let actions = await runAll()
                    onSignal(sig, actions)
                }
            }
            source.resume()
            made.append(source)
        }
        sources = made  // called once, from the entry point, before any task runs
    }
}
