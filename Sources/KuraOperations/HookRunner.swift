import Foundation
import KuraRepository

/// Runs `before`/`after` hooks: `/bin/sh -c COMMAND` with a timeout, kura's environment minus its
/// secrets plus `KURA_SOURCE`, `KURA_HOOK` (before/after) and, for `after`, `KURA_RESULT`
/// (success/failure) and `KURA_SNAPSHOT`. Output is kept (last lines) for the log and the report.
///
/// The shell is started with posix_spawn in its own process group, with every descriptor above 2
/// closed, and waited for with waitpid. (Foundation's `Process` notices a child's end through a
/// descriptor the child inherits; a hook that starts a daemon — `pg_ctl start`, `cmd &` — would hand
/// it on and the hook would never end.) On timeout the whole group gets SIGTERM, then SIGKILL.
public enum HookRunner {
    public struct Outcome: Sendable {
        public var status: Int32
        public var timedOut: Bool
        public var output: [String]
        public var succeeded: Bool { !timedOut && status == 0 }
    }

    public static func run(_ hook: Hook, environment extra: [String: String]) async -> Outcome {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_PASSWORD") }
        for (k, v) in extra { env[k] = v }
        let child: SpawnedChild
        do { child = try SpawnedChild(["/bin/sh", "-c", hook.command], environment: env) } catch {
            return Outcome(status: 127, timedOut: false, output: ["cannot start /bin/sh: \(error)"])
        }
        let collected = OutputTail()
        let reader = Task.detached { child.drain(into: collected) }
        let result: (status: Int32, timedOut: Bool) = await withTaskGroup(of: (Int32, Bool)?.self) { group in
            group.addTask { (try? await offPool { child.wait() }).map { ($0, false) } }
            group.addTask {
                try? await Task.sleep(for: .seconds(hook.timeoutSeconds))
                return Task.isCancelled ? nil : (-1, true)
            }
            var outcome: (Int32, Bool) = (-1, true)
            if let first = await group.next(), let value = first {
                outcome = value
                if value.1 {
                    // Timed out: end the whole process group, then collect the shell.
                    kill(-child.pid, SIGTERM)
                    for _ in 0..<20 where !child.hasExited { try? await Task.sleep(for: .milliseconds(100)) }
                    if !child.hasExited { kill(-child.pid, SIGKILL) }
                }
            }
            group.cancelAll()
            while let next = await group.next() { if let v = next, !v.1, outcome.1 == false { outcome = v } }
            return outcome
        }
        child.finished()
        _ = await reader.value
        return Outcome(status: result.status, timedOut: result.timedOut, output: collected.lines(last: 20))
    }
}

/// A child started with posix_spawn: own process group, stdin /dev/null, stdout and stderr into a
/// pipe, no other inherited descriptors.
final class SpawnedChild: @unchecked Sendable {
    let pid: pid_t
    private let readFD: Int32
    private let lock = NSLock()
    private var exited = false
    private var status: Int32 = -1
    private var done = false

    init(_ argv: [String], environment: [String: String]) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw KuraError(.io, "pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)  // dup2 onto 1 and 2 clears it there
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        if let closeFrom = SpawnedChild.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var none = sigset_t(); sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t(); sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, &attr, cArgs, cEnv)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); throw KuraError(.io, "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        pid = child
        readFD = fds[0]
    }

    /// glibc ≥ 2.34's posix_spawn_file_actions_addclosefrom_np (not in Swift's Glibc module), looked up at run time.
    static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(sym, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    var hasExited: Bool { lock.lock(); defer { lock.unlock() }; return exited }

    /// Blocks until the child ends; its exit status (128 + signal when killed).
    func wait() -> Int32 {
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 { if errno != EINTR { break } }
        let code: Int32 = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
        lock.lock(); exited = true; status = code; lock.unlock()
        return code
    }

    /// Stops `drain` once what is buffered now has been read (a daemon the hook started may keep
    /// the pipe open forever).
    func finished() { lock.lock(); done = true; lock.unlock() }

    /// Reads the output until the pipe closes, or `finished()` was called and nothing is left.
    func drain(into tail: OutputTail) {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            var p = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 100)
            if ready > 0 {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(readFD, $0.baseAddress, $0.count) }
                if n > 0 { tail.append(Data(buffer[0..<n])); continue }
                if n == 0 || errno != EINTR { break }
            } else {
                lock.lock(); let stop = done; lock.unlock()
                if stop { break }
            }
        }
        close(readFD)
    }
}

/// The last 16 KiB of a child's output.
final class OutputTail: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.lock(); data.append(d); if data.count > 16_384 { data = data.suffix(16_384) }; lock.unlock() }
    func lines(last n: Int) -> [String] {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(n).map(String.init)
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
