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
    ///
    /// With `iam`, moto enforces IAM user policies and Object Lock retention (authentication on):
    /// ``accessKey`` is an IAM user allowed everything, and ``createUser(_:policy:)`` makes users with
    /// narrower policies. The proxy still checks every signature with botocore and re-signs what it
    /// forwards, so that moto's own check (wrong for listings: see the script) judges the policy only.
    /// With `objectLock`, ``bucket`` has Object Lock (and versioning) enabled, and a PUT of an object
    /// must carry a matching `Content-MD5`, as on AWS.
    public init(iam: Bool = false, objectLock: Bool = false) throws {
        scratch = try TemporaryFolder("kura-s3-server")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("s3_test_server.py").path
        do {
            server = try PythonTestServer(script: script, ["--bucket", Self.bucket, "--key", "\(Self.accessKey):\(Self.secretKey)"]
                                          + (iam ? ["--iam"] : []) + (objectLock ? ["--object-lock"] : []),
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
    /// the GETs that were ListObjectsV2; also `PUT data`, `PUT index`, … by repository folder of the key,
    /// and `LIST data`, `LIST index`, … for listings of a whole folder), and faults injected (`slowdown`,
    /// `reset`, `signature`: requests refused for a wrong signature).
    public func stats() throws -> (counts: [String: Int], injected: [String: Int]) {
        let data = try control("GET", "stats")
        let json = try JSONSerialization.jsonObject(with: data) as? [String: [String: Int]] ?? [:]
        return (json["counts"] ?? [:], json["injected"] ?? [:])
    }

    public func resetStats() throws { _ = try control("POST", "reset-stats") }

    /// (`iam` servers) A new IAM user with `policy` (an IAM policy document, JSON) as its only policy,
    /// and its access key: the environment the AWS tools (and kura) read it from.
    public func createUser(_ name: String, policy: String) throws -> [String: String] {
        let data = try control("POST", "iam-user?name=\(name)", body: policy)
        let json = try JSONSerialization.jsonObject(with: data) as? [String: String] ?? [:]
        guard let id = json["accessKey"], let secret = json["secretKey"] else { throw S3TestServerError(message: "no key for user \(name): \(json)") }
        return ["AWS_ACCESS_KEY_ID": id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1"]
    }

    /// One version of an object, as moto holds it.
    public struct ObjectVersion: Sendable {
        public var key: String
        public var versionID: String
        public var isDeleteMarker: Bool
        /// `COMPLIANCE`, `GOVERNANCE` or nil.
        public var lockMode: String?
        /// `YYYY-MM-DDTHH:MM:SSZ`, or nil.
        public var lockUntil: String?
        public var size: Int
    }

    /// Every version of every key under `prefix` in ``bucket`` (read from moto's state, not its API).
    public func versions(prefix: String) throws -> [ObjectVersion] {
        let data = try control("GET", "versions?bucket=\(Self.bucket)&prefix=\(prefix)")
        let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        return list.map {
            ObjectVersion(key: $0["key"] as? String ?? "", versionID: $0["versionId"] as? String ?? "",
                          isDeleteMarker: $0["deleteMarker"] as? Bool ?? false, lockMode: $0["lockMode"] as? String,
                          lockUntil: $0["lockUntil"] as? String, size: $0["size"] as? Int ?? 0)
        }
    }

    /// (`iam` servers) DeleteObject of one version as the given access key (botocore, straight to moto):
    /// the HTTP status and S3's error code ("" on success).
    public func deleteVersion(key: String, versionID: String, as accessKey: String = S3TestServer.accessKey) throws -> (status: Int, code: String) {
        let data = try control("POST", "delete-version?bucket=\(Self.bucket)&key=\(key)&version=\(versionID)&as=\(accessKey)")
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        return (json["status"] as? Int ?? 0, json["code"] as? String ?? "")
    }

    /// Every `failEvery`-th request answered 503 SlowDown, every `resetEvery`-th connection reset
    /// without an answer, every request delayed `delayMilliseconds`; 0 turns a fault off.
    public func setFaults(failEvery: Int = 0, resetEvery: Int = 0, delayMilliseconds: Int = 0) throws {
        _ = try control("POST", "faults?fail_every=\(failEvery)&reset_every=\(resetEvery)&delay_ms=\(delayMilliseconds)")
    }

    /// What the server wrote to its standard error.
    public var serverErrors: String { server.serverErrors }

    private func control(_ method: String, _ path: String, body: String? = nil) throws -> Data {
        let result = try TestProcess.command(["curl", "-sS", "--fail", "-X", method] + (body.map { ["--data-binary", $0] } ?? [])
                                             + ["\(endpoint)/__kura/\(path)"])
        guard result.status == 0 else { throw S3TestServerError(message: "control request \(path) failed: \(result)") }
        return Data(result.out.utf8)
    }
}

public struct S3TestServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
