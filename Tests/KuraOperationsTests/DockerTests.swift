import Foundation
import KuraOperations
import Testing
import KuraTestSupport

/// A fake Docker Engine API on a Unix socket: answers the few calls kura makes and records them.
final class FakeDocker: @unchecked Sendable {
    let path: String
    let mountpoints: [String: String]
    private let lock = NSLock()
    private var log: [String] = []
    private var fd: Int32 = -1
    var paused = false

    init(path: String, mountpoints: [String: String]) throws {
        self.path = path
        self.mountpoints = mountpoints
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard ok == 0, listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    var requests: [String] { lock.lock(); defer { lock.unlock() }; return log }
    func record(_ s: String) { lock.lock(); log.append(s); lock.unlock() }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd); unlink(path) }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            var data: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: data, as: UTF8.self).contains("\r\n\r\n") {
                let n = recv(c, &buf, buf.count, 0)
                if n <= 0 { break }
                data += buf[0..<n]
            }
            let line = String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
            let parts = line.split(separator: " ")
            let method = parts.count > 1 ? String(parts[0]) : "", target = parts.count > 1 ? String(parts[1]) : ""
            let pathOnly = target.split(separator: "?").first.map(String.init) ?? target
            record("\(method) \(pathOnly)")
            var status = "200 OK", body = "", chunked = false
            if method == "GET", pathOnly.hasPrefix("/volumes/") {
                let name = String(pathOnly.dropFirst("/volumes/".count))
                if let mp = mountpoints[name] { body = "{\"Name\":\"\(name)\",\"Mountpoint\":\"\(mp)\"}" } else { status = "404 Not Found"; body = "{\"message\":\"no such volume\"}" }
            } else if method == "GET", pathOnly == "/containers/json" {
                body = "[{\"Id\":\"abc123def456\",\"Names\":[\"/app\"],\"State\":\"running\"},{\"Id\":\"fff999\",\"Names\":[\"/worker\"],\"State\":\"running\"}]"
                chunked = true
            } else if method == "POST", pathOnly.hasPrefix("/containers/") {
                status = "204 No Content"
            } else { status = "404 Not Found" }
            var response = "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nConnection: close\r\n"
            if status.hasPrefix("204") { response += "\r\n" }
            else if chunked {
                let half = body.utf8.count / 2
                let a = String(body.prefix(half)), b = String(body.dropFirst(half))
                response += "Transfer-Encoding: chunked\r\n\r\n\(String(a.utf8.count, radix: 16))\r\n\(a)\r\n\(String(b.utf8.count, radix: 16))\r\n\(b)\r\n0\r\n\r\n"
            } else { response += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)" }
            _ = Array(response.utf8).withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(c)
        }
    }
}

@Suite("docker volumes")
struct DockerTests {
    @Test func volumesResolveThroughTheAPIAndContainersStopAroundTheBackup() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try s.write("volumes-elsewhere/media/photo.jpg", "jpeg bytes")
        let docker = try FakeDocker(path: s.path("docker.sock"), mountpoints: ["media": s.path("volumes-elsewhere/media")])
        defer { docker.stop() }
        let config = try s.writeConfig(s.header + """
        [docker]
        socket = "\(s.path("docker.sock"))"
        root = "\(s.path("docker-root"))"
        stop-timeout = 5

        [[source]]
        name = "media"
        type = "docker-volume"
        volume = "media"
        stop-containers = ["app"]
        after = "echo after"

        [[source]]
        name = "ghost"
        type = "docker-volume"
        volume = "ghost"
        """)
        let client = DockerClient(settings: config.docker)
        #expect(try client.resolve(volume: "media") == DockerClient.Resolution(volume: "media", path: s.path("volumes-elsewhere/media"), via: "api"))
        #expect(try client.containers(using: ["media"]).map(\.name) == ["app", "worker"], "chunked response parsed")

        let outcome = try await Runner(config: config, environment: s.environment, logger: quietLogger).run(RunRequest())
        let media = try #require(outcome.results.first?.report)
        #expect(media.success, "\(media.error ?? "")")
        let ghost = try #require(outcome.results.last?.report)
        #expect(!ghost.success && ghost.error?.contains("Docker has no volume named \"ghost\"") == true, "\(ghost.error ?? "")")
        // Only the named container was stopped, and started again after the backup.
        let calls = docker.requests.filter { !$0.hasPrefix("GET /volumes") }
        #expect(calls.contains("GET /containers/json"))
        #expect(calls.filter { $0.hasPrefix("POST") } == ["POST /containers/abc123def456/stop", "POST /containers/abc123def456/start"], "\(calls)")
        let snap = try #require(try await s.openRepository().listSnapshots().first)
        #expect(snap.paths == [s.path("volumes-elsewhere/media")] && snap.tags.contains("source:media"))
    }

    @Test func withoutTheAPIVolumesAreFoundUnderTheDockerRoot() async throws {
        let s = try OpsSandbox()
        try s.write("docker-root/volumes/app_data/_data/file.txt", "x")
        var settings = DockerSettings()
        settings.socket = s.path("missing.sock")
        settings.root = s.path("docker-root")
        let client = DockerClient(settings: settings)
        #expect(!client.apiAvailable)
        let r = try client.resolve(volume: "app_data")
        #expect(r.path == s.path("docker-root/volumes/app_data/_data") && r.via == "fallback")
        #expect(throws: Error.self) { try client.resolve(volume: "nope") }
    }
}
