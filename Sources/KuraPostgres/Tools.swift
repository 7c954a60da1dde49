import Foundation
import KuraRepository
import KuraRestorer

/// Finds the PostgreSQL client programs (pg_dump, pg_dumpall, pg_restore, psql, pg_basebackup):
/// in `$KURA_PG_BINDIR` when set, else on PATH (on Debian /usr/bin/pg_dump is pg_wrapper, which
/// runs the newest installed version).
public struct PostgresTools: Sendable {
    /// A folder that holds the programs; nil searches PATH.
    public var directory: String?

    public init(directory: String? = nil) {
        let env = ProcessInfo.processInfo.environment["KURA_PG_BINDIR"]
        self.directory = directory ?? ((env?.isEmpty ?? true) ? nil : env)
    }

    /// The full path of a program, or a clear error naming the package to install.
    public func path(_ name: String) throws -> String {
        if let directory {
            let p = directory + "/" + name
            guard FileManager.default.isExecutableFile(atPath: p) else {
                throw KuraError(.notFound, "\(name) is not in \(directory) (KURA_PG_BINDIR)", hint: "point KURA_PG_BINDIR at PostgreSQL's bin folder, or unset it to search PATH")
            }
            return p
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let p = String(dir) + "/" + name
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        // Debian keeps programs without a pg_wrapper link (pg_verifybackup, pg_ctl) per version.
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { v in Double(v).map { (v, $0) } }.sorted { $0.1 > $1.1 }
        for (v, _) in versions {
            let p = "/usr/lib/postgresql/\(v)/bin/" + name
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw KuraError(.notFound, "\(name) was not found on PATH",
                        hint: "install the PostgreSQL client programs (Debian/Ubuntu: apt-get install postgresql-client), or set KURA_PG_BINDIR to their folder")
    }

    /// A program's version (`NAME --version`), as text ("15.18") and number (150018).
    public func version(_ name: String) throws -> (text: String, number: Int) {
        let p = try path(name)
        let r = try ToolRun.run([p, "--version"], environment: [:])
        guard r.status == 0, let n = PostgresVersion.parse(String(r.stdout.split(separator: ")").last ?? "")) ?? PostgresVersion.parse(r.stdout) else {
            throw KuraError(.commandFailed, "cannot tell the version of \(p): `\(name) --version` printed \(r.stdout.isEmpty ? "nothing" : "'\(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))'")\(r.stderr.isEmpty ? "" : " (\(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))")")
        }
        return (PostgresVersion.display(n), n)
    }

    /// Refuses a client program older than the server's major version (pg_dump and pg_basebackup
    /// cannot read newer servers correctly). Returns the program's version.
    @discardableResult
    public func requireCompatible(_ name: String, serverVersion: Int) throws -> (text: String, number: Int) {
        let v = try version(name)
        guard PostgresVersion.majorKey(v.number) >= PostgresVersion.majorKey(serverVersion) else {
            throw KuraError(.invalidArgument,
                            "\(name) \(v.text) (\(try path(name))) is older than the server (PostgreSQL \(PostgresVersion.display(serverVersion))): \(name) must be of major version \(PostgresVersion.major(serverVersion)) or newer; nothing was backed up",
                            hint: "install postgresql-client-\(PostgresVersion.major(serverVersion)) (or newer) and put it first on PATH, or set KURA_PG_BINDIR to its bin folder (e.g. /usr/lib/postgresql/\(PostgresVersion.major(serverVersion))/bin)")
        }
        return v
    }
}

/// The environment for PostgreSQL child programs: kura's minus its own secrets, plus extras.
func childEnvironment(_ extra: [String: String]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_PASSWORD") && $0.key != "KURA_NEW_PASSWORD_FILE" }
    for (k, v) in extra { env[k] = v }
    return env
}

/// Reads a pipe to its end on a thread of its own with blocking reads, handing each piece to `body`;
/// the semaphore is signalled at the end. (Not a readabilityHandler: tearing one down races
/// libdispatch's epoll bookkeeping on Linux and can crash the process in _dispatch_event_loop_drain,
/// swift-corelibs-libdispatch#949.)
func drain(_ handle: FileHandle, _ body: @escaping @Sendable (Data) -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            body(Data(buffer[0..<n]))
        }
        done.signal()
    }
    return done
}

/// Runs a short program to completion and collects its output.
enum ToolRun {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ argv: [String], environment extra: [String: String], stdinPath: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = childEnvironment(extra)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdinPath.flatMap { FileHandle(forReadingAtPath: $0) } ?? FileHandle.nullDevice
        let errors = OutputTail(limit: 1 << 20)
        do { try process.run() } catch {
            throw KuraError(.commandFailed, "cannot start \(argv[0]): \(error)")
        }
        try? out.fileHandleForWriting.close()
        try? err.fileHandleForWriting.close()
        let errorsRead = drain(err.fileHandleForReading) { errors.append($0) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        errorsRead.wait()
        return Result(status: process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus,
                      stdout: String(decoding: data, as: UTF8.self), stderr: errors.text)
    }
}

/// The last bytes of a program's error output.
final class OutputTail: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let limit: Int
    init(limit: Int = 4096) { self.limit = limit }
    func append(_ d: Data) { lock.lock(); data.append(d); if data.count > limit { data = data.suffix(limit) }; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    /// The last lines, indented, for an error message.
    func quoted(lines: Int = 8) -> String {
        let t = text
        return t.isEmpty ? "" : "\n  its error output ends with:\n    " + t.split(separator: "\n").suffix(lines).joined(separator: "\n    ")
    }
}

/// A child program fed on its standard input (pg_restore, psql), with its error output passed
/// through to ours and its tail kept for the message. Its standard output is discarded.
final class FedProcess: @unchecked Sendable {
    let argv: [String]
    private let process = Process()
    private let input = Pipe()
    private let errors = Pipe()
    let tail = OutputTail()
    private var inputOpen = true
    private var errorsRead: DispatchSemaphore?
    /// True once the child closed its end (it had read all it wanted, or it failed).
    private(set) var inputBroken = false
    var passThrough: Bool

    init(_ argv: [String], environment: [String: String], passThrough: Bool = true) {
        self.argv = argv
        self.passThrough = passThrough
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = childEnvironment(environment)
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
    }

    func start() throws {
        // A child that stops reading must not kill kura with SIGPIPE: writes then fail with EPIPE.
        signal(SIGPIPE, SIG_IGN)
        do { try process.run() } catch {
            throw KuraError(.commandFailed, "cannot start \(argv[0]): \(error)", hint: "check that the PostgreSQL client programs are installed (postgresql-client)")
        }
        try? input.fileHandleForReading.close()
        try? errors.fileHandleForWriting.close()
        let tail = self.tail, pass = passThrough
        errorsRead = drain(errors.fileHandleForReading) { d in tail.append(d); if pass { FileHandle.standardError.write(d) } }
    }

    /// Writes all bytes; returns false (and writes nothing more) once the child has closed its input.
    func write(_ bytes: [UInt8]) throws -> Bool {
        if inputBroken { return false }
        let fd = input.fileHandleForWriting.fileDescriptor
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EPIPE { inputBroken = true; return }
                    throw KuraError(.io, "writing to \(argv[0]) failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
        return !inputBroken
    }

    func closeInput() {
        if inputOpen { try? input.fileHandleForWriting.close(); inputOpen = false }
    }

    func terminate() { if process.isRunning { process.terminate() } }

    /// Waits for the child; throws with its error output unless it exited 0.
    func finish(what: String) throws {
        closeInput()
        process.waitUntilExit()
        errorsRead?.wait()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            throw KuraError(.commandFailed, "\(what): \(URL(fileURLWithPath: argv[0]).lastPathComponent) \(how)\(tail.quoted())")
        }
    }
}

/// Stops ContentStreamer early once a child has read all it wants.
struct InputClosed: Error {}

extension ContentStreamer {
    /// Streams a file of a snapshot into a child's standard input and waits for the child.
    func feed(_ node: Node, into child: FedProcess, what: String) async throws -> UInt64 {
        try child.start()
        var written: UInt64 = 0
        do {
            try await stream(node.content) { bytes in
                guard try child.write(bytes) else { throw InputClosed() }
                written += UInt64(bytes.count)
            }
        } catch is InputClosed {
            // The child stopped reading: its exit status decides.
        } catch {
            child.terminate()
            try? child.finish(what: what)
            throw error
        }
        try child.finish(what: what)
        return written
    }
}
