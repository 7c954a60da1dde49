import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Helpers for the fault-injection tests (Fault*Tests.swift): trial counts and seeds, a child process
// that can be killed by its pid (and is reaped only by us, so the pid cannot be reused under us),
// mounts (tmpfs, read-only bind), damage (bit flips, truncation), and source trees whose expected
// content is known without keeping copies.

// MARK: - Configuration

enum FaultConfig {
    /// Number of kill trials in total: $KURA_FAULT_TRIALS, else 25 (`make stress` sets more).
    static let trials: Int = {
        if let v = ProcessInfo.processInfo.environment["KURA_FAULT_TRIALS"], let n = Int(v), n > 0 { return n }
        return 25
    }()

    /// The random seed: $KURA_FAULT_SEED, else a new one. Every failure message names it, so a failing
    /// run can be repeated with KURA_FAULT_SEED=<seed>.
    static let seed: UInt64 = {
        if let v = ProcessInfo.processInfo.environment["KURA_FAULT_SEED"], let n = UInt64(v) { return n }
        return UInt64.random(in: 1 ... UInt64(Int64.max))
    }()

    /// A generator for one test, derived from the seed and the test's name.
    static func rng(_ name: String) -> SplitMix64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return SplitMix64(state: seed ^ h)
    }

    /// python3 from the system (not a shim that depends on $HOME, which the sandbox changes).
    static let python: String = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    /// setpriv (util-linux), to run kura as root without the capabilities that bypass file permissions.
    static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

// MARK: - Child processes that can be killed

/// How a child ended.
enum FaultExit: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// Still running after the timeout (it was then killed).
    case timedOut

    var description: String {
        switch self {
        case .exited(let c): return "exited \(c)"
        case .signaled(let s): return "killed by signal \(s)"
        case .timedOut: return "timed out"
        }
    }
}

/// A child started with posix_spawn. Only `wait()` reaps it, so until then its pid is ours (alive or
/// a zombie) and `kill9()` can never hit another process.
final class FaultChild: @unchecked Sendable {
    let pid: pid_t
    let arguments: [String]
    let stdoutURL: URL
    let stderrURL: URL
    let started = Date()
    private let lock = NSLock()
    private var result: FaultExit?
    private(set) var finished: Date?

    private init(pid: pid_t, arguments: [String], stdoutURL: URL, stderrURL: URL) {
        self.pid = pid
        self.arguments = arguments
        self.stdoutURL = stdoutURL
        self.stderrURL = stderrURL
    }

    /// Starts `executable` (a path, or a name looked up in PATH) with stdin from /dev/null and
    /// stdout/stderr into files. Descriptors other than 0-2 are not inherited.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
                      stdout: URL, stderr: URL) throws -> FaultChild {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Inherit nothing else (a parallel test's pipe must not stay open in our child).
        if let closeFrom = FaultChild.addCloseFrom {
            _ = closeFrom(&actions, 3)
        } else {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
                if let fd = Int32(name), fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        return FaultChild(pid: pid, arguments: [executable] + arguments, stdoutURL: stdout, stderrURL: stderr)
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does not export.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Starts kura against the sandbox's repository (or `repo`), with the sandbox's password.
    static func kura(_ s: Sandbox, _ arguments: [String], repo: String? = nil, password: PasswordSource = .environment,
                     wrapper: [String] = [], extra: [String: String] = [:]) throws -> FaultChild {
        let id = UUID().uuidString
        // Options after `--` belong to a backed-up command, so --repo goes before it.
        let dash = arguments.firstIndex(of: "--") ?? arguments.endIndex
        let args = Array(arguments[..<dash]) + ["--repo", repo ?? s.repo] + Array(arguments[dash...])
        let exe = wrapper.first ?? KuraBinary.url.path
        let all = wrapper.isEmpty ? args : Array(wrapper.dropFirst()) + [KuraBinary.url.path] + args
        return try spawn(exe, all, environment: try s.environment(password, extra: extra),
                         stdout: s.scratch.appendingPathComponent("fault-out-\(id)"),
                         stderr: s.scratch.appendingPathComponent("fault-err-\(id)"))
    }

    /// Reaps the child if it has ended (non-blocking).
    private func poll() -> FaultExit? {
        lock.lock(); defer { lock.unlock() }
        if let result { return result }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            result = (status & 0x7F) == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
            finished = Date()
        } else if r < 0, errno == ECHILD {
            result = .exited(-1)   // reaped by someone else (should not happen)
            finished = Date()
        }
        return result
    }

    var isRunning: Bool { poll() == nil }

    /// SIGKILL, unless it was already reaped (then the pid may not be ours any more).
    func kill9() {
        lock.lock(); defer { lock.unlock() }
        if result == nil { _ = kill(pid, SIGKILL) }
    }

    /// Sends SIGKILL `delay` seconds after the start unless the child ended before. Returns whether
    /// the signal was sent. Timed on a thread of its own (the test's cooperative threads may be busy
    /// with other tests), polling every 2 ms, so `finished` is the end time within a few milliseconds.
    func kill9(after delay: Double) async -> Bool {
        await kill9(when: { [started] in Date().timeIntervalSince(started) >= delay }, timeout: .infinity)
    }

    /// Sends SIGKILL as soon as `condition` holds (checked every 2 ms on a thread of its own), unless the
    /// child ends first or `timeout` seconds pass. Returns whether the signal was sent.
    func kill9(when condition: @escaping @Sendable () -> Bool, timeout: Double) async -> Bool {
        await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            Thread.detachNewThread {
                var sent = false
                while self.isRunning, Date().timeIntervalSince(self.started) < timeout {
                    if condition() { self.kill9(); sent = true; break }
                    usleep(2000)
                }
                c.resume(returning: sent)
            }
        }
    }

    /// Watches the child until it ends (on a thread of its own, every millisecond): the seconds after its
    /// start at which `condition` first held, or nil if it never did.
    func firstTime(_ condition: @escaping @Sendable () -> Bool) async -> Double? {
        await withCheckedContinuation { (c: CheckedContinuation<Double?, Never>) in
            Thread.detachNewThread {
                var seen: Double?
                while self.isRunning {
                    if condition() { seen = Date().timeIntervalSince(self.started); break }
                    usleep(1000)
                }
                c.resume(returning: seen)
            }
        }
    }

    /// Waits for the end (polling), killing the child after `timeout` seconds.
    func wait(timeout: Double = 120) async -> FaultExit {
        var pause: UInt64 = 1_000_000
        while true {
            if let r = poll() { return r }
            if Date().timeIntervalSince(started) > timeout {
                kill9()
                while poll() == nil { try? await Task.sleep(nanoseconds: 2_000_000) }
                return .timedOut
            }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
    }

    /// Blocking wait (for `defer` blocks, which cannot suspend).
    func waitBlocking() -> FaultExit {
        while poll() == nil { usleep(2000) }
        return poll()!
    }

    var stdout: Data { (try? Data(contentsOf: stdoutURL)) ?? Data() }
    var stderr: Data { (try? Data(contentsOf: stderrURL)) ?? Data() }

    /// The outcome as a `RunResult` (a signal shows as status 128 + signal, a timeout as -1).
    func result(_ exit: FaultExit) -> RunResult {
        let status: Int32
        switch exit {
        case .exited(let c): status = c
        case .signaled(let s): status = 128 + s
        case .timedOut: status = -1
        }
        defer {
            try? FileManager.default.removeItem(at: stdoutURL)
            try? FileManager.default.removeItem(at: stderrURL)
        }
        return RunResult(arguments: arguments.map { ($0 as NSString).lastPathComponent == "kura" ? "kura" : $0 },
                         status: status, stdout: stdout, stderr: stderr)
    }
}

/// Runs kura and waits (with a timeout); the result's status is -1 when it timed out.
func faultKura(_ s: Sandbox, _ arguments: [String], repo: String? = nil, password: PasswordSource = .environment,
               wrapper: [String] = [], timeout: Double = 120) async throws -> RunResult {
    let child = try FaultChild.kura(s, arguments, repo: repo, password: password, wrapper: wrapper)
    return child.result(await child.wait(timeout: timeout))
}

/// Runs kura on the repository at `repo` and requires exit status 0.
@discardableResult
func faultKuraOK(_ s: Sandbox, _ arguments: [String], repo: String, password: PasswordSource = .environment,
                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
    let r = try await s.kura(arguments, repo: .path(repo), password: password)
    try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
    return r
}

/// Runs a program to completion, blocking (for set-up and `defer`). Returns the exit status (-1 on a signal).
@discardableResult
func faultRunSync(_ executable: String, _ arguments: [String], scratch: URL? = nil) -> (status: Int32, output: String) {
    let dir = scratch ?? FileManager.default.temporaryDirectory
    let id = UUID().uuidString
    let out = dir.appendingPathComponent("sync-out-\(id)"), err = dir.appendingPathComponent("sync-err-\(id)")
    defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
    guard let child = try? FaultChild.spawn(executable, arguments, environment: ProcessInfo.processInfo.environment,
                                            stdout: out, stderr: err) else { return (-1, "cannot start \(executable)") }
    let exit = child.waitBlocking()
    let text = String(decoding: child.stdout + child.stderr, as: UTF8.self)
    if case .exited(let c) = exit { return (c, text) }
    return (-1, text)
}

/// Runs a python3 program (given as source text) with arguments; returns its status and output.
func faultPython(_ s: Sandbox, _ source: String, _ arguments: [String] = []) async throws -> RunResult {
    let script = s.scratch.appendingPathComponent("script-\(UUID().uuidString).py")
    try Data(source.utf8).write(to: script)
    defer { try? FileManager.default.removeItem(at: script) }
    let id = UUID().uuidString
    let child = try FaultChild.spawn(FaultConfig.python, [script.path] + arguments, environment: try s.environment(.none),
                                     stdout: s.scratch.appendingPathComponent("py-out-\(id)"),
                                     stderr: s.scratch.appendingPathComponent("py-err-\(id)"))
    return child.result(await child.wait(timeout: 120))
}

// MARK: - Sandboxes in memory

/// `withSandbox`, with the sandbox on a tmpfs of its own when one can be mounted: many small files
/// and fsyncs then do not wait for a disk that other jobs share (kill -9 and full-storage tests do
/// not need a disk: a killed process's writes are in the page cache either way). Falls back to the
/// sandbox's ordinary folder.
func withFaultSandbox<T>(_ label: String = #function, size: String = "1g", _ body: (Sandbox) async throws -> T) async throws -> T {
    let sandbox = try Sandbox(label)
    var mounted = false
    if TestMount.tmpfsUnavailableReason == nil, (try? TestMount.mountTmpfs(sandbox.root.path, options: "size=\(size),mode=0755")) != nil {
        mounted = true
        try FileManager.default.createDirectory(at: sandbox.scratch, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: sandbox.home, withIntermediateDirectories: true)
    }
    defer {
        if mounted { TestMount.unmount(sandbox.root.path) }
        sandbox.remove()
    }
    return try await body(sandbox)
}

// MARK: - Damage

enum FaultDamage {
    /// Flips one bit of the file at `offset`.
    static func flipBit(_ path: String, at offset: Int, bit: Int) throws {
        var bytes = try RawFS.read(Array(path.utf8))
        bytes[offset] ^= UInt8(1 << (bit & 7))
        try rewrite(path, bytes)
    }

    /// Cuts the file to `length` bytes.
    static func truncate(_ path: String, to length: Int) throws {
        guard Glibc.truncate(path, off_t(length)) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// Replaces the file's bytes keeping its mode (repository files are 0600).
    static func rewrite(_ path: String, _ bytes: [UInt8]) throws {
        var st = stat()
        let mode = lstat(path, &st) == 0 ? mode_t(st.st_mode & 0o7777) : 0o600
        try RawFS.write(Array(path.utf8), bytes, mode: mode)
    }
}

/// Object files under `folder` of a repository (relative keys like "data/ab/abcd…"), without temporary files.
func faultObjects(_ repo: String, _ folder: String) -> [String] {
    let base = repo + "/" + folder
    guard let all = try? FileManager.default.subpathsOfDirectory(atPath: base) else { return [] }
    return all.filter { rel in
        var isDir: ObjCBool = false
        let name = (rel as NSString).lastPathComponent
        return FileManager.default.fileExists(atPath: base + "/" + rel, isDirectory: &isDir) && !isDir.boolValue && !name.hasPrefix(".")
    }.map { folder + "/" + $0 }.sorted()
}

/// Temporary files (`.tmp-*`) anywhere in the repository.
func faultTemporaryFiles(_ repo: String) -> [String] {
    ((try? FileManager.default.subpathsOfDirectory(atPath: repo)) ?? []).filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }
}

/// The file's size in bytes (-1 if missing).
func faultSize(_ path: String) -> Int {
    var st = stat()
    return lstat(path, &st) == 0 ? Int(st.st_size) : -1
}

// MARK: - Trees with known content

/// A source tree whose files are pseudo-random bytes from (size, seed): the expected content of any
/// snapshot is a small manifest, not a copy.
struct FaultTree {
    struct Spec: Equatable { var size: Int; var seed: UInt64 }
    let root: String
    private(set) var files: [String: Spec] = [:]
    private var nextSeed: UInt64
    private var serial = 0

    init(root: String, seed: UInt64) {
        self.root = root
        nextSeed = seed | 1
    }

    var totalBytes: Int { files.values.reduce(0) { $0 + $1.size } }

    static func contents(_ spec: Spec) -> [UInt8] { randomBytes(spec.size, seed: spec.seed) }

    mutating func write(_ rel: String, size: Int) throws {
        nextSeed &+= 0x9E37_79B9
        let spec = Spec(size: size, seed: nextSeed)
        let path = root + "/" + rel
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try RawFS.write(Array(path.utf8), FaultTree.contents(spec))
        files[rel] = spec
    }

    mutating func remove(_ rel: String) throws {
        try FileManager.default.removeItem(atPath: root + "/" + rel)
        files[rel] = nil
    }

    /// A size: mostly small files, some of a few hundred KB (one chunk each with the default chunker).
    static func randomSize(_ rng: inout SplitMix64) -> Int {
        Int.random(in: 0..<100, using: &rng) < 4 ? Int.random(in: 100_000...300_000, using: &rng) : Int.random(in: 0...16_000, using: &rng)
    }

    /// `count` new files in `folders` folders.
    mutating func populate(files count: Int, folders: Int = 10, rng: inout SplitMix64) throws {
        for i in 0..<count {
            serial += 1
            try write(String(format: "d%02d/f%06d.bin", i % folders, serial), size: FaultTree.randomSize(&rng))
        }
    }

    /// Adds about `addBytes` of new files, rewrites `modify` files and deletes `delete` files.
    mutating func mutate(addBytes: Int, modify: Int, delete: Int, rng: inout SplitMix64) throws {
        var names = files.keys.sorted()
        names.shuffle(using: &rng)
        for rel in names.prefix(delete) { try remove(rel) }
        for rel in names.dropFirst(delete).prefix(modify) { try write(rel, size: FaultTree.randomSize(&rng)) }
        var added = 0
        while added < addBytes {
            let size = min(FaultTree.randomSize(&rng) * 2, addBytes - added + 1000)
            serial += 1
            try write(String(format: "d%02d/n%06d.bin", serial % 12, serial), size: size)
            added += size
        }
    }

    /// Differences between `manifest` and the regular files found below `dir` (empty when equal).
    static func differences(_ manifest: [String: Spec], restoredAt dir: String) throws -> [String] {
        var problems: [String] = []
        let scan = try scanTree(dir)
        var found = Set<String>()
        for (path, entry) in scan where entry.kind == .file {
            let rel = String(decoding: path, as: UTF8.self)
            found.insert(rel)
            guard let spec = manifest[rel] else { problems.append("unexpected file \(rel)"); continue }
            if entry.contents.count != spec.size { problems.append("\(rel): \(entry.contents.count) bytes, expected \(spec.size)"); continue }
            if entry.contents != FaultTree.contents(spec) { problems.append("\(rel): content differs") }
        }
        for rel in manifest.keys where !found.contains(rel) { problems.append("missing \(rel)") }
        return problems.sorted()
    }
}

// MARK: - Output helpers

/// The `summary.bytesAdded` of a `backup --json` report.
func faultBytesAdded(_ report: [String: Any]) -> Int {
    ((report["summary"] as? [String: Any])?["bytesAdded"] as? Int) ?? -1
}

/// The subcommands `kura --help` lists.
func faultSubcommands(_ s: Sandbox) async throws -> Set<String> {
    let help = try await s.kura(["--help"], repo: .none, password: .none)
    var names = Set<String>()
    var inList = false
    for line in help.out.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("SUBCOMMANDS:") { inList = true; continue }
        guard inList else { continue }
        if line.contains("See 'kura help") { break }
        if line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first { names.insert(String(word)) }
    }
    return names
}

/// Commands the text recommends as `` `kura NAME ...` `` whose NAME is not a kura subcommand.
func faultUnknownRecommendedCommands(_ text: String, known: Set<String>) -> [String] {
    var unknown: [String] = []
    var rest = Substring(text)
    while let r = rest.range(of: "`kura ") {
        let after = rest[r.upperBound...]
        let word = after.prefix { $0.isLetter || $0 == "-" }
        if !word.isEmpty, !known.contains(String(word)) { unknown.append(String(word)) }
        rest = after
    }
    return Array(Set(unknown)).sorted()
}
