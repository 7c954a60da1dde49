import Foundation
import Testing
@testable import KuraNotify
import KuraTestSupport

// Helpers for the notification tests: the Python test servers (a real
// SMTP server and a real HTTP server on loopback, each on a free port), a self-signed certificate,
// and reports to send.

/// The folder of this file (the Python helpers live beside it).
let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

/// One of the Python test servers, started on a free loopback port; stopped on `stop()` or deinit
/// (and it stops by itself when the test process goes away: it watches its standard input).
final class TestServer: @unchecked Sendable {
    let outbox: TemporaryFolder
    private let server: PythonTestServer
    var port: Int { server.port }

    /// Starts `script` (in this folder) with the outbox folder as first argument and `arguments` after it.
    init(script: String, _ arguments: [String] = []) throws {
        outbox = try TemporaryFolder("kura-notify")
        do {
            server = try PythonTestServer(script: testsFolder.appendingPathComponent(script).path, [outbox.path] + arguments,
                                          errorFile: outbox.file("server.stderr"), what: script)
        } catch let e as PythonTestServerError { throw TestServerError(text: e.description) }
    }

    func stop() { server.stop() }

    /// What the server wrote to its standard error (aiosmtpd's complaints, Python tracebacks).
    var serverErrors: String { server.serverErrors }

    /// The JSON records the server wrote (one per message or request), oldest first; waits up to
    /// `seconds` for at least `count` of them.
    func records(atLeast count: Int = 1, seconds: Double = 5) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let names = try FileManager.default.contentsOfDirectory(atPath: outbox.path).filter { $0.hasSuffix(".json") }.sorted()
            if names.count >= count || Date() >= deadline {
                return try names.map { name in
                    let data = try Data(contentsOf: outbox.url.appendingPathComponent(name))
                    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
                }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The number of records so far.
    var recordCount: Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: outbox.path)) ?? []).filter { $0.hasSuffix(".json") }.count
    }

    static func smtp(_ arguments: [String] = []) throws -> TestServer { try TestServer(script: "smtp_server.py", arguments) }
    static func http() throws -> TestServer { try TestServer(script: "http_server.py") }
}

struct TestServerError: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}

/// A self-signed certificate for 127.0.0.1 and localhost (EC P-256, one day), made with openssl.
struct TestCertificate {
    let certificate: String
    let key: String

    init(in scratch: TemporaryFolder) throws {
        certificate = scratch.file("cert.pem")
        key = scratch.file("key.pem")
        let result = try TestProcess.command(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                  "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
                                  "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        guard result.status == 0 else { throw TestServerError(text: "openssl failed: \(result.all)") }
    }
}

/// A port on loopback that nothing listens on (bound, read and released; good enough for a refusal).
func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Parses a message file with Python's e-mail package (the same parser the SMTP test server uses).
func parseMail(_ path: String) throws -> [String: Any] {
    let code = """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from smtp_server import parse_message
    print(json.dumps(parse_message(open(sys.argv[2], 'rb').read()), ensure_ascii=False))
    """
    let result = try TestProcess.command(["python3", "-c", code, testsFolder.path, path])
    guard result.status == 0 else { throw TestServerError(text: "parsing \(path) failed: \(result.all)") }
    return try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
}

enum Sample {
    /// 2026-11-29 17:00:02 UTC.
    static let start = Date(timeIntervalSince1970: 1_795_971_602)
    static let utc = TimeZone(identifier: "UTC")!

    static func success(_ source: String = "media", kind: String = "docker-volume") -> RunReport {
        var r = RunReport(source: source, kind: kind, success: true, startedAt: start, host: "web1", repository: "/backup/kura")
        r.durationSeconds = 72.4
        r.snapshotID = "1a2b3c4d"
        r.files = 1234
        r.logicalBytes = 1_300_000_000
        r.bytesAdded = 12_582_912
        r.bytesStored = 4_194_304
        r.dedupRatio = 1_300_000_000 / 12_582_912
        r.checkResult = "ok (read 1/7 of the data)"
        r.snapshotsRetained = 7
        return r
    }

    static func failure(_ source: String = "db", kind: String = "postgres") -> RunReport {
        var r = RunReport(source: source, kind: kind, success: false, startedAt: start.addingTimeInterval(5), host: "web1", repository: "/backup/kura")
        r.durationSeconds = 3.2
        r.error = "pg_dump exited with status 1: connection to server on socket \"/run/postgresql/.s.PGSQL.5432\" failed\n  hint: is the server running?"
        r.logTail = ["17:00:05 info kura.run: starting source=db", "17:00:08 error kura.run: pg_dump failed <stderr follows> & more"]
        r.lastGoodSnapshot = "9f8e7d6c"
        r.lastGoodTime = start.addingTimeInterval(-86_400)
        r.nextStep = "start PostgreSQL (systemctl start postgresql), then run `kura run db`"
        return r
    }
}
