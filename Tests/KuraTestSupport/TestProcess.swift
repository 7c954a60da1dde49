import Foundation
import Testing

// Running child processes from tests: output captured through files (no pipe can fill up and
// deadlock), a hang guard, and one result type for every suite.

/// What a finished child process left behind.
public struct RunResult: Sendable, CustomStringConvertible {
    public var arguments: [String]
    public var status: Int32
    public var stdout: Data
    public var stderr: Data

    public init(arguments: [String], status: Int32, stdout: Data, stderr: Data) {
        self.arguments = arguments
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var out: String { String(decoding: stdout, as: UTF8.self) }
    public var err: String { String(decoding: stderr, as: UTF8.self) }
    /// Standard output and standard error together (for searching messages).
    public var all: String { out + err }

    public var description: String {
        "`\(arguments.joined(separator: " "))` exited \(status)\n--- stdout:\n\(out.prefix(4000))\n--- stderr:\n\(err.prefix(4000))"
    }

    /// Standard output as one JSON document.
    public func json() throws -> Any {
        try JSONSerialization.jsonObject(with: stdout, options: [.fragmentsAllowed])
    }

    public func jsonObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        try #require(try json() as? [String: Any], "not a JSON object: \(self)", sourceLocation: sourceLocation)
    }

    public func jsonArray(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        try #require(try json() as? [[String: Any]], "not a JSON array of objects: \(self)", sourceLocation: sourceLocation)
    }

    /// Standard output as JSON Lines (one object per line), the form `kura ls --json` writes.
    public func jsonLines() throws -> [[String: Any]] {
        try out.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "line is not a JSON object: \(line)")
        }
    }
}

/// Lets a `Process` cross into the termination handler and the watchdog.
private final class ProcessBox: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
}

/// Where a child's standard input, output or error goes.
public enum ChildIO {
    case null
    case file(URL)
    case handle(Pipe)
    /// Standard input only: these bytes (written to a file first).
    case bytes(Data)
}

public enum TestProcess {
    /// Seconds after which a child is killed (a hang becomes a failure, not a stuck test run).
    public static let timeout: Double = 600  // a hang guard only; a loaded 2-core CI machine is slow

    /// Starts `executable` and returns at once. Standard input is /dev/null unless given.
    /// `environment` nil inherits ours.
    public static func start(_ executable: URL, _ arguments: [String], environment: [String: String]?,
                             directory: URL? = nil, stdin: ChildIO = .null, stdout: ChildIO, stderr: ChildIO) throws -> Launched {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        var inputFile: URL?
        defer { if let inputFile { try? FileManager.default.removeItem(at: inputFile) } }
        func attach(_ stream: ChildIO, output: Bool) throws -> Any {
            switch stream {
            case .null: return FileHandle.nullDevice
            case .file(let url):
                if output {
                    FileManager.default.createFile(atPath: url.path, contents: nil)
                    return try FileHandle(forWritingTo: url)
                }
                return try FileHandle(forReadingFrom: url)
            case .handle(let pipe): return pipe
            case .bytes(let data):
                precondition(!output, "ChildIO.bytes is for standard input")
                let url = FileManager.default.temporaryDirectory.appendingPathComponent("kura-test-stdin-\(UUID().uuidString)")
                FileManager.default.createFile(atPath: url.path, contents: data)
                inputFile = url
                return try FileHandle(forReadingFrom: url)
            }
        }
        process.standardInput = try attach(stdin, output: false)
        process.standardOutput = try attach(stdout, output: true)
        process.standardError = try attach(stderr, output: true)
        let launched = Launched(box: ProcessBox(process))
        process.terminationHandler = { p in launched.finished(p.terminationStatus) }
        try process.run()
        for handle in [process.standardInput, process.standardOutput, process.standardError] {
            if let h = handle as? FileHandle, h !== FileHandle.nullDevice { try? h.close() }
        }
        let box = launched.box
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            if box.process.isRunning { box.process.terminate() }
        }
        return launched
    }

    /// A started child; `wait()` suspends (without blocking a thread) until it exits.
    public final class Launched: @unchecked Sendable {
        fileprivate let box: ProcessBox
        private let lock = NSLock()
        private var status: Int32?
        private var waiter: CheckedContinuation<Int32, Never>?
        private let done = DispatchSemaphore(value: 0)

        fileprivate init(box: ProcessBox) { self.box = box }

        fileprivate func finished(_ code: Int32) {
            lock.lock()
            status = code
            let w = waiter
            waiter = nil
            lock.unlock()
            done.signal()
            w?.resume(returning: code)
        }

        public var pid: Int32 { box.process.processIdentifier }

        public func wait() async -> Int32 {
            await withCheckedContinuation { (c: CheckedContinuation<Int32, Never>) in
                lock.lock()
                if let status {
                    lock.unlock()
                    c.resume(returning: status)
                } else {
                    waiter = c
                    lock.unlock()
                }
            }
        }

        /// Blocks the calling thread until the child exits (for synchronous helpers).
        public func waitBlocking() -> Int32 {
            done.wait()
            done.signal()  // later callers return at once
            lock.lock(); defer { lock.unlock() }
            return status ?? -1
        }
    }

    /// Runs a program to completion, capturing its output through files in `scratch` (a temporary
    /// folder when nil).
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]?,
                           directory: URL? = nil, stdin: ChildIO = .null, scratch: URL? = nil) async throws -> RunResult {
        let capture = try Capture(scratch)
        defer { capture.remove() }
        let launched = try start(executable, arguments, environment: environment, directory: directory,
                                 stdin: stdin, stdout: .file(capture.out), stderr: .file(capture.err))
        let status = await launched.wait()
        return capture.result([executable.lastPathComponent] + arguments, status)
    }

    /// `run`, blocking the calling thread (for synchronous tests and set-up).
    public static func runBlocking(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                                   directory: URL? = nil, stdin: ChildIO = .null, scratch: URL? = nil) throws -> RunResult {
        let capture = try Capture(scratch)
        defer { capture.remove() }
        let launched = try start(executable, arguments, environment: environment, directory: directory,
                                 stdin: stdin, stdout: .file(capture.out), stderr: .file(capture.err))
        let status = launched.waitBlocking()
        return capture.result([executable.lastPathComponent] + arguments, status)
    }

    /// Runs `arguments[0]`, looked up on PATH, with the rest as its arguments (blocking).
    @discardableResult
    public static func command(_ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
                               stdin: ChildIO = .null) throws -> RunResult {
        var result = try runBlocking(URL(fileURLWithPath: "/usr/bin/env"), arguments, environment: environment,
                                     directory: directory.map { URL(fileURLWithPath: $0) }, stdin: stdin)
        result.arguments = arguments
        return result
    }

    /// Two output files, in a given folder or in a private temporary one.
    private struct Capture {
        let folder: TemporaryFolder?
        let out: URL
        let err: URL

        init(_ scratch: URL?) throws {
            folder = scratch == nil ? try TemporaryFolder("kura-test-run") : nil
            let base = scratch ?? folder!.url
            let id = UUID().uuidString
            out = base.appendingPathComponent("stdout-\(id)")
            err = base.appendingPathComponent("stderr-\(id)")
        }

        func result(_ arguments: [String], _ status: Int32) -> RunResult {
            RunResult(arguments: arguments, status: status,
                      stdout: (try? Data(contentsOf: out)) ?? Data(), stderr: (try? Data(contentsOf: err)) ?? Data())
        }

        func remove() {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
            folder?.remove()
        }
    }
}
