import Foundation

/// A real S3 server on loopback for tests: moto (authentication off) behind a proxy that checks every
/// request's SigV4 signature and payload hash with botocore and can inject faults
/// (`s3_test_server.py`, beside this file). One bucket, ``bucket``, and one key pair,
/// ``accessKey``/``secretKey``, exist from the start.
///
/// ``shared`` is one server for a whole test process (tests use distinct key prefixes); a test that
/// injects faults starts its own with `S3TestServer()`. The server stops on ``stop()``, on deinit, or
/// when the test process goes away (it watches its standard input).
public final class S3TestServer: @unchecked Sendable {
    public static let bucket = "kura-test"
    public static let accessKey = "AKIAKURATEST0000"
    public static let secretKey = "kura/test+secret-key"

    public let port: Int
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let errorFile: String
    private let scratch: TemporaryFolder

    /// The server every test of the process may share (started on first use).
    public static var shared: S3TestServer {
        get throws { try sharedResult.get() }
    }
    private static let sharedResult = Result { try S3TestServer() }

    /// Starts moto and the proxy on free loopback ports and creates ``bucket``.
    public init() throws {
        scratch = try TemporaryFolder("kura-s3-server")
        errorFile = scratch.file("server.stderr")
        _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("s3_test_server.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--bucket", Self.bucket, "--key", "\(Self.accessKey):\(Self.secretKey)"]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: errorFile)
        try process.run()
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        while !line.contains(10), Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5).prefix { $0.isNumber }) else {
            process.terminate()
            let stderr = (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
            throw S3TestServerError(message: "the S3 test server did not start (is moto installed? `make test-deps`): \(text)\n\(stderr.suffix(2000))")
        }
        self.port = port
    }

    deinit { stop() }

    public func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    /// `http://127.0.0.1:PORT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// `s3:http://127.0.0.1:PORT/kura-test/PREFIX`.
    public func location(prefix: String) -> String { "s3:\(endpoint)/\(Self.bucket)" + (prefix.isEmpty ? "" : "/" + prefix) }

    /// A fresh prefix nobody else uses: `t-<uuid>`.
    public static func uniquePrefix(_ label: String = "t") -> String { "\(label)-\(UUID().uuidString.lowercased())" }

    /// The credentials as the AWS tools read them.
    public static var environment: [String: String] {
        ["AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_REGION": "us-east-1"]
    }

    /// Requests by method since the last ``resetStats()`` (`GET`, `PUT`, `HEAD`, `DELETE`, and `LIST` for
    /// the GETs that were ListObjectsV2), and faults injected (`slowdown`, `reset`, `signature`: requests
    /// refused for a wrong signature).
    public func stats() throws -> (counts: [String: Int], injected: [String: Int]) {
        let data = try control("GET", "stats")
        let json = try JSONSerialization.jsonObject(with: data) as? [String: [String: Int]] ?? [:]
        return (json["counts"] ?? [:], json["injected"] ?? [:])
    }

    public func resetStats() throws { _ = try control("POST", "reset-stats") }

    /// Every `failEvery`-th request answered 503 SlowDown, every `resetEvery`-th connection reset
    /// without an answer, every request delayed `delayMilliseconds`; 0 turns a fault off.
    public func setFaults(failEvery: Int = 0, resetEvery: Int = 0, delayMilliseconds: Int = 0) throws {
        _ = try control("POST", "faults?fail_every=\(failEvery)&reset_every=\(resetEvery)&delay_ms=\(delayMilliseconds)")
    }

    /// What the server wrote to its standard error.
    public var serverErrors: String { (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "" }

    private func control(_ method: String, _ path: String) throws -> Data {
        let result = try TestProcess.command(["curl", "-sS", "--fail", "-X", method, "\(endpoint)/__kura/\(path)"])
        guard result.status == 0 else { throw S3TestServerError(message: "control request \(path) failed: \(result)") }
        return Data(result.out.utf8)
    }
}

public struct S3TestServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
