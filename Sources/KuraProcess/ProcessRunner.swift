/// KuraProcess: the one way kura runs a child process (command sources, hooks, sendmail, the
/// PostgreSQL client programs). Built on swift-subprocess, which already does what this needs:
///
/// - each child in its own process group (`PlatformOptions.processGroupID = 0`);
/// - an empty signal mask and default dispositions for every signal in the child (its spawn resets
///   them with POSIX_SPAWN_SETSIGMASK/SETSIGDEF), so a child does not inherit the SIG_IGN that the
///   kura CLI sets for SIGINT/SIGTERM/SIGHUP/SIGPIPE;
/// - waiting through a pidfd on its own epoll thread, never in waitpid on a Swift concurrency thread;
/// - non-blocking pipe I/O: standard input from an async producer, standard output as an async
///   sequence read only as fast as the consumer takes it (the pipe is the backpressure);
/// - a teardown sequence: SIGTERM to the group, SIGKILL to the group after a grace period.
///
/// What this target adds on top: the environment filter (kura's secrets never reach a child), the
/// time limit, a bounded standard error tail, escaping of control bytes before a child's output is
/// shown, a ``Termination`` action per running child (kura's SIGINT/SIGTERM ends its children), and
/// errors as ``KuraError``. Nothing here needed posix_spawn directly.
///
/// Measured cost: swift-subprocess and swift-system (its one dependency) add about 10 s of wall
/// time (12 s of CPU) to a clean debug build on this project's 2-core machine: `swift build --target
/// KuraCore` took 7.8 s from scratch, `--target KuraProcess` (KuraCore, swift-system, Subprocess)
/// 17.8 s. What swift-subprocess does not do for us is the time limit itself: it has a teardown
/// sequence but no deadline, and one built from a Swift task (sleep, then cancel) struck a minute
/// late on a loaded 2-core machine whose cooperative pool was busy. So the deadline is a Dispatch
/// timer that signals the group itself (``Deadline``).
import Foundation
import KuraCore
import Subprocess
import Synchronization

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A child process to run: its argv, environment additions, time limit and how much error output to keep.
public struct ChildCommand: Sendable {
    /// argv; `argv[0]` is a path, or a name looked up on PATH.
    public var argv: [String]
    /// Added to kura's environment (after its secrets were removed, see ``ChildEnvironment``).
    public var environment: [String: String]
    public var workingDirectory: String?
    /// Time limit; nil runs without one. On expiry the group gets SIGTERM, then SIGKILL after ``gracePeriod``.
    public var timeout: Duration?
    public var gracePeriod: Duration
    /// How many bytes of the end of standard error to keep for messages.
    public var stderrTailBytes: Int
    /// Copy the child's standard error to kura's as it comes (control bytes escaped).
    public var passStderrThrough: Bool
    /// Send standard error into standard output (one stream, in the order the child wrote it).
    public var mergeStderrIntoStdout: Bool

    public init(_ argv: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
                timeout: Duration? = nil, gracePeriod: Duration = .seconds(2), stderrTailBytes: Int = 16 << 10,
                passStderrThrough: Bool = false, mergeStderrIntoStdout: Bool = false) {
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.gracePeriod = gracePeriod
        self.stderrTailBytes = stderrTailBytes
        self.passStderrThrough = passStderrThrough
        self.mergeStderrIntoStdout = mergeStderrIntoStdout
    }

    /// The program's name for messages ("pg_dump", "sh").
    public var name: String { argv.first.map { String($0.split(separator: "/").last ?? Substring($0)) } ?? "" }
}

/// What a child reads on its standard input.
public enum ChildInput: Sendable {
    /// Nothing: the child's standard input is at its end from the start.
    case none
    case bytes([UInt8])
    /// Bytes made as the child runs; `write` waits while the child does not read (backpressure).
    case producer(@Sendable (ChildInputWriter) async throws -> Void)
}

/// Writes to a child's standard input.
public final class ChildInputWriter: Sendable {
    private let writer: StandardInputWriter
    private let closed = Mutex(false)
    fileprivate init(_ writer: StandardInputWriter) { self.writer = writer }

    /// Writes all of `bytes`. Returns false, and writes nothing more, once the child has closed its
    /// standard input (it read all it wanted, or it failed: its exit status decides).
    public func write(_ bytes: [UInt8]) async throws -> Bool {
        if closed.withLock({ $0 }) { return false }
        guard !bytes.isEmpty else { return true }
        let failure: SubprocessError
        do {
            // Short only when the child has ended and its pipe was given up.
            if try await writer.write(bytes) < bytes.count { markClosed(); return false }
            return true
        } catch {
            failure = error
        }
        let code = failure.underlyingError?.rawValue ?? 0
        if code == EPIPE || code == ECONNRESET {
            markClosed()
            return false
        }
        throw KuraError(.io, "writing to a child's standard input failed: \(failure)")
    }
    private func markClosed() { closed.withLock { $0 = true } }
}

/// How a child ended.
public enum ChildStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var succeeded: Bool { self == .exited(0) }
    /// The shell's convention: the exit status, or 128 + the signal.
    public var shellCode: Int32 {
        switch self { case .exited(let c): return c; case .signaled(let s): return 128 + s }
    }
    /// "exited with status 2", "was killed by signal 15 (SIGTERM)".
    public var description: String {
        switch self {
        case .exited(let c): return "exited with status \(c)"
        case .signaled(let s): return "was killed by signal \(s)\(ChildStatus.signalName(s).map { " (\($0))" } ?? "")"
        }
    }
    static func signalName(_ s: Int32) -> String? {
        switch s {
        case SIGHUP: return "SIGHUP"; case SIGINT: return "SIGINT"; case SIGQUIT: return "SIGQUIT"
        case SIGABRT: return "SIGABRT"; case SIGKILL: return "SIGKILL"; case SIGSEGV: return "SIGSEGV"
        case SIGPIPE: return "SIGPIPE"; case SIGTERM: return "SIGTERM"; default: return nil
        }
    }
}

/// The outcome of a child that ran to its end (whatever its status).
public struct ChildResult: Sendable {
    public var command: [String]
    public var status: ChildStatus
    /// Standard output, when ``ProcessRunner/run(_:input:stdoutLimit:)`` collected it.
    public var stdout: [UInt8]
    /// The last ``ChildCommand/stderrTailBytes`` of standard error (raw bytes).
    public var stderrTail: [UInt8]

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// The standard error tail as text safe for a terminal (control bytes escaped), trimmed.
    public var stderrText: String { OutputEscaping.escape(stderrTail).trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The last lines of standard error, indented, for an error message ("" when there was none).
    public func quotedStderr(lines: Int = 8) -> String {
        let t = stderrText
        return t.isEmpty ? "" : "\n  its error output ends with:\n    " + t.split(separator: "\n").suffix(lines).joined(separator: "\n    ")
    }

    /// Throws `.commandFailed` ("WHAT: NAME exited with status N" and the error tail) unless the child exited 0.
    @discardableResult
    public func requireSuccess(_ what: String, hint: String? = nil) throws -> ChildResult {
        guard status.succeeded else {
            let name = command.first.map { String($0.split(separator: "/").last ?? Substring($0)) } ?? "command"
            throw KuraError(.commandFailed, "\(what): \(name) \(status)\(quotedStderr())", hint: hint)
        }
        return self
    }
}

/// A child's standard output, read as the consumer asks for it: a single-pass async sequence of
/// byte blocks. Valid only inside the consumer closure given to ``ProcessRunner/stream(_:input:stdout:)``.
public struct ChildOutput: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error
    fileprivate let sequence: SubprocessOutputSequence
    fileprivate let tail: ByteTail?

    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate var inner: SubprocessOutputSequence.Iterator
        fileprivate let tail: ByteTail?
        public mutating func next() async throws -> [UInt8]? {
            while true {
                guard let buffer = try await inner.next() else { return nil }
                if buffer.isEmpty { continue }
                let bytes = buffer.withUnsafeBytes { Array($0) }
                tail?.append(bytes)
                return bytes
            }
        }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: sequence.makeAsyncIterator(), tail: tail) }
}

/// The environment children get.
public enum ChildEnvironment {
    /// Variables kura never hands to a child: its repository password (`KURA_PASSWORD`,
    /// `KURA_PASSWORD_FILE`, `KURA_PASSWORD_COMMAND`, … every `KURA_PASSWORD*`) and `KURA_NEW_PASSWORD_FILE`.
    public static func isSecret(_ name: String) -> Bool {
        name.hasPrefix("KURA_PASSWORD") || name == "KURA_NEW_PASSWORD_FILE"
    }

    /// kura's environment minus its secrets, plus `additions` (which win).
    public static func make(adding additions: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !isSecret($0.key) }
        for (k, v) in additions { env[k] = v }
        return env
    }
}

/// Makes a child's output safe to show on a terminal: control bytes (escape sequences, carriage
/// returns, backspaces, C1 controls) become visible `\xNN`; newlines and tabs stay; invalid UTF-8
/// becomes U+FFFD.
public enum OutputEscaping {
    public static func escape(_ bytes: some Collection<UInt8>) -> String {
        var out = ""
        out.reserveCapacity(bytes.count)
        for scalar in String(decoding: Array(bytes), as: UTF8.self).unicodeScalars {
            let v = scalar.value
            if v == 0x0A || v == 0x09 || (v >= 0x20 && v < 0x7F) || (v > 0x9F && v != 0xFEFF) {
                out.unicodeScalars.append(scalar)
            } else if v < 0x100 {
                out += "\\x" + (v < 0x10 ? "0" : "") + String(v, radix: 16)
            } else {
                out += "\\u{" + String(v, radix: 16) + "}"
            }
        }
        return out
    }
}

/// A flag set once, read from any task.
final class Flag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var isSet: Bool { state.withLock { $0 } }
}

/// A child's time limit: a Dispatch timer that sends SIGTERM to the child's process group, then
/// SIGKILL after the grace period, unless disarmed first (the child was reaped: its id may be reused).
final class Deadline: Sendable {
    private struct State { var armed = false; var struck = false; var group: pid_t = 0 }
    private let state = Mutex(State())

    func arm(after timeout: Duration, grace: Duration, group pid: pid_t) {
        state.withLock { $0.armed = true; $0.group = pid }
        // Once disarmed, the timers find nothing to do.
        DispatchQueue.global().asyncAfter(deadline: .now() + Deadline.interval(timeout)) { [self] in
            let go = state.withLock { s -> Bool in if s.armed { s.struck = true }; return s.armed }
            if go { kill(-pid, SIGTERM) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + Deadline.interval(timeout + grace)) { [self] in
            if state.withLock({ $0.armed && $0.struck }) { kill(-pid, SIGKILL) }
        }
    }

    /// The child was reaped. If the limit struck, what is left of its group (a grandchild that
    /// ignores SIGTERM) gets SIGKILL now: a process group's id is not reused while the group has members.
    func disarm() {
        let leftover = state.withLock { s -> pid_t? in defer { s.armed = false }; return s.armed && s.struck ? s.group : nil }
        if let leftover { kill(-leftover, SIGKILL) }
    }

    var struck: Bool { state.withLock { $0.struck } }

    static func interval(_ d: Duration) -> DispatchTimeInterval {
        .nanoseconds(Int(min(Double(Int.max), Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9)))
    }
}

/// The ``Termination`` action of a running child, removed when the child has been reaped.
final class TokenBox: Sendable {
    private let state = Mutex<Termination.Token?>(nil)
    func set(_ t: Termination.Token) { state.withLock { $0 = t } }
    func unregister() { if let t = state.withLock({ s -> Termination.Token? in defer { s = nil }; return s }) { Termination.unregister(t) } }
}

/// The last `limit` bytes written to it.
final class ByteTail: Sendable {
    private let state = Mutex<[UInt8]>([])
    let limit: Int
    init(limit: Int) { self.limit = max(0, limit) }
    func append(_ bytes: [UInt8]) {
        state.withLock { d in
            if bytes.count >= limit { d = Array(bytes.suffix(limit)); return }
            d.append(contentsOf: bytes)
            if d.count > limit { d.removeFirst(d.count - limit) }
        }
    }
    var bytes: [UInt8] { state.withLock { $0 } }
}

/// Copies a child's standard error to kura's, escaped, keeping incomplete UTF-8 sequences for the next block.
final class EscapingPassThrough: Sendable {
    private let carry = Mutex<[UInt8]>([])
    func write(_ bytes: [UInt8]) {
        let text: String = carry.withLock { c in
            var all = c + bytes
            // Keep a trailing, incomplete multi-byte sequence for the next block.
            var cut = all.count
            var back = 0
            while back < 3, cut > 0, (all[cut - 1] & 0xC0) == 0x80 { cut -= 1; back += 1 }
            if cut > 0, all[cut - 1] >= 0xC0 {
                let lead = all[cut - 1]
                let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
                if all.count - (cut - 1) < need { c = Array(all[(cut - 1)...]); all.removeLast(all.count - (cut - 1)); return OutputEscaping.escape(all) }
            }
            c = []
            return OutputEscaping.escape(all)
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
    func flush() {
        let rest = carry.withLock { c -> [UInt8] in defer { c = [] }; return c }
        if !rest.isEmpty { FileHandle.standardError.write(Data(OutputEscaping.escape(rest).utf8)) }
    }
}

/// Runs child processes. See the target's documentation above for what every child gets.
public enum ProcessRunner {
    /// Runs a child to its end, collecting standard output (up to `stdoutLimit` bytes; more is an
    /// error). Returns whatever the exit status; throws `.notFound` when the program does not exist,
    /// `.timedOut` when the time limit struck, `.commandFailed` when it could not be started.
    public static func run(_ command: ChildCommand, input: ChildInput = .none, stdoutLimit: Int = 64 << 20) async throws -> ChildResult {
        let (collected, result) = try await stream(command, input: input) { output in
            var all: [UInt8] = []
            for try await block in output {
                all += block
                if all.count > stdoutLimit {
                    throw KuraError(.commandFailed, "\(command.name) wrote more than \(stdoutLimit) bytes to its standard output")
                }
            }
            return all
        }
        var r = result
        r.stdout = collected
        return r
    }

    /// Runs a child and hands its standard output to `stdout` as it comes; the child is read only as
    /// fast as `stdout` consumes (the pipe's buffer is the backpressure). If `stdout` throws, the
    /// child's group is ended (SIGTERM, then SIGKILL) and the error is rethrown. Returns `stdout`'s
    /// value and how the child ended (any status: check it with ``ChildResult/requireSuccess(_:hint:)``).
    public static func stream<T: Sendable>(_ command: ChildCommand, input: ChildInput = .none,
                                           stdout: @escaping @Sendable (ChildOutput) async throws -> T) async throws -> (T, ChildResult) {
        guard let program = command.argv.first, !program.isEmpty else {
            throw KuraError(.invalidArgument, "empty command")
        }
        return try await execute(command, input: input, stdout: stdout)
    }

    static func timedOut(_ command: ChildCommand) -> KuraError {
        KuraError(.timedOut, "\(command.name) did not finish within \(describe(command.timeout ?? .zero)) and was stopped",
                  hint: "raise the time limit if the command needs longer, or find why it hangs")
    }

    static func describe(_ d: Duration) -> String {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
    }

    private static func execute<T: Sendable>(_ command: ChildCommand, input: ChildInput,
                                             stdout: @escaping @Sendable (ChildOutput) async throws -> T) async throws -> (T, ChildResult) {
        if command.mergeStderrIntoStdout {
            return try await execute(command, input: input, error: .combinedWithOutput, errorStream: { _ in nil }, stdout: stdout)
        }
        return try await execute(command, input: input, error: .sequence, errorStream: { $0.standardError }, stdout: stdout)
    }

    private static func execute<T: Sendable, E: ErrorOutputProtocol>(
        _ command: ChildCommand, input: ChildInput, error: E,
        errorStream: (Execution<CustomWriteInput, SequenceOutput, E>) -> SubprocessOutputSequence?,
        stdout: @escaping @Sendable (ChildOutput) async throws -> T
    ) async throws -> (T, ChildResult) {
        ignoreSIGPIPE
        let program = command.argv[0]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var env: [Environment.Key: String] = [:]
        for (k, v) in ChildEnvironment.make(adding: command.environment) {
            if let key = Environment.Key(rawValue: k) { env[key] = v }
        }
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: command.gracePeriod)]

        let tail = ByteTail(limit: command.stderrTailBytes)
        let passThrough = command.passStderrThrough ? EscapingPassThrough() : nil
        let registration = TokenBox()
        let deadline = Deadline()
        defer { deadline.disarm(); registration.unregister() }
        let name = command.name
        let grace = command.gracePeriod

        let outcome: ExecutionResult<T, SequenceOutput, E>
        do {
            outcome = try await Subprocess.run(
                executable, arguments: Arguments(executablePathOverride: program, remainingValues: Array(command.argv.dropFirst())), environment: .custom(env),
                workingDirectory: command.workingDirectory.map { FilePath($0) }, platformOptions: options,
                input: .inputWriter, output: .sequence, error: error
            ) { execution in
                let pid = execution.processIdentifier.value
                // kura told to stop (SIGINT/SIGTERM/SIGHUP): end this child's whole group.
                let token = Termination.register(.children, what: "stopped \(name)") {
                    kill(-pid, SIGTERM)
                    // SIGKILL after the grace period, unless the group is gone before.
                    let end = ContinuousClock.now + grace
                    while ContinuousClock.now < end, kill(-pid, 0) == 0 { try? await Task.sleep(for: .milliseconds(50)) }
                    if kill(-pid, 0) == 0 { kill(-pid, SIGKILL) }
                }
                registration.set(token)
                // The time limit, on a Dispatch timer rather than a Swift task: it must strike even when
                // the cooperative pool is busy. SIGTERM to the group, SIGKILL after the grace period.
                if let timeout = command.timeout {
                    deadline.arm(after: timeout, grace: grace, group: pid)
                }
                let writer = execution.standardInputWriter
                let errors = errorStream(execution)
                let out = ChildOutput(sequence: execution.standardOutput, tail: command.mergeStderrIntoStdout ? tail : nil)
                return try await withThrowingTaskGroup(of: T?.self) { group in
                    group.addTask {
                        let w = ChildInputWriter(writer)
                        switch input {
                        case .none: break
                        case .bytes(let b): _ = try await w.write(b)
                        case .producer(let make): try await make(w)
                        }
                        try? await writer.finish()
                        return nil
                    }
                    if let errors {
                        group.addTask {
                            for try await block in errors {
                                let bytes = block.withUnsafeBytes { Array($0) }
                                tail.append(bytes)
                                passThrough?.write(bytes)
                            }
                            passThrough?.flush()
                            return nil
                        }
                    }
                    group.addTask { try await stdout(out) }
                    var value: T?
                    while let next = try await group.next() { if let v = next { value = v } }
                    return value!
                }
            }
        } catch let e as SubprocessError {
            deadline.disarm()
            throw map(e, command: command, tail: tail)
        } catch {
            deadline.disarm()
            if deadline.struck { throw timedOut(command) }
            throw error
        }
        deadline.disarm()
        if deadline.struck { throw timedOut(command) }
        let status: ChildStatus
        switch outcome.terminationStatus {
        case .exited(let c): status = .exited(c)
        case .signaled(let s): status = .signaled(s)
        }
        if !status.succeeded, let signal = Termination.receivedSignal {
            // Ended by this child's termination action: kura is stopping, this is not the command's failure.
            throw KuraError(.interrupted, "\(name) was stopped because kura was told to stop (\(ChildStatus.signalName(signal) ?? "signal \(signal)"))")
        }
        return (outcome.closureResult, ChildResult(command: command.argv, status: status, stdout: [], stderrTail: tail.bytes))
    }

    private static let ignoreSIGPIPE: Void = {
        // A child that stops reading must not kill kura with SIGPIPE: the write fails with EPIPE.
        signal(SIGPIPE, SIG_IGN)
    }()

    static func map(_ e: SubprocessError, command: ChildCommand, tail: ByteTail) -> KuraError {
        let program = command.argv[0]
        switch e.code {
        case .executableNotFound:
            return KuraError(.notFound, "cannot run \(program): no such file" + (program.contains("/") ? "" : " on PATH"),
                             hint: "check the command's name and PATH")
        case .failedToChangeWorkingDirectory:
            return KuraError(.notFound, "cannot run \(program): cannot enter the folder \(command.workingDirectory ?? "")")
        case .spawnFailed:
            let reason = e.underlyingError.map { String(cString: strerror($0.rawValue)) } ?? "\(e)"
            if let errno = e.underlyingError?.rawValue, errno == ENOENT {
                return KuraError(.notFound, "cannot run \(program): no such file")
            }
            if let errno = e.underlyingError?.rawValue, errno == EACCES {
                return KuraError(.permissionDenied, "cannot run \(program): permission denied")
            }
            return KuraError(.commandFailed, "cannot run \(program): \(reason)")
        default:
            let t = OutputEscaping.escape(tail.bytes).trimmingCharacters(in: .whitespacesAndNewlines)
            return KuraError(.commandFailed, "running \(program) failed: \(e)" + (t.isEmpty ? "" : "\n  its error output ends with:\n    " + t.split(separator: "\n").suffix(8).joined(separator: "\n    ")))
        }
    }
}
