import Foundation

/// A test server written in Python (SMTP, HTTP, S3 on loopback), started on a free port: it prints
/// `PORT <n>` on its first line once it listens, and stops by itself when the test process goes away
/// (it watches its standard input). Stopped on ``stop()`` or deinit.
public final class PythonTestServer: @unchecked Sendable {
    public let port: Int
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errorFile: String

    /// Starts `python3 SCRIPT ARGUMENTS…`; its standard error goes to `errorFile`. `what` names it in the
    /// error when it does not come up within `timeout` seconds.
    public init(script: String, _ arguments: [String], errorFile: String, what: String, timeout: Double = 20) throws {
        self.errorFile = errorFile
        _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: errorFile)
        try process.run()
        var line = Data()
        let deadline = Date().addingTimeInterval(timeout)
        while !line.contains(10), Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5).prefix { $0.isNumber }) else {
            process.terminate()
            let stderr = (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
            throw PythonTestServerError(description: "\(what) did not start: \(text)\n\(stderr.suffix(2000))")
        }
        self.port = port
    }

    deinit { stop() }

    public func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    /// What the server wrote to its standard error (tracebacks, complaints).
    public var serverErrors: String { (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "" }
}

public struct PythonTestServerError: Error, CustomStringConvertible {
    public var description: String
}
