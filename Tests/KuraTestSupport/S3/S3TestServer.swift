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

    public var port: Int { server.port }
    private let server: PythonTestServer
    private let scratch: TemporaryFolder

    /// The server every test of the process may share (started on first use).
    public static var shared: S3TestServer {
        get throws { try sharedResult.get() }
    }
    private static let sharedResult = Result { try S3TestServer() }

    /// Starts moto and the proxy on free loopback ports and creates ``bucket``.
    public init() throws {
        scratch = try TemporaryFolder("kura-s3-server")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("s3_test_server.py").path
        do {
            server = try PythonTestServer(script: script, ["--bucket", Self.bucket, "--key", "\(Self.accessKey):\(Self.secretKey)"],
                                          errorFile: scratch.file("server.stderr"), what: "the S3 test server (is moto installed? `make test-deps`)", timeout: 60)
        } catch let e as PythonTestServerError { throw S3TestServerError(message: e.description) }
    }

    public func stop() { server.stop() }

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
    public var serverErrors: String { server.serverErrors }

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
