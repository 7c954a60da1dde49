import Foundation
import KuraRepository

/// A tiny HTTP/1.1 client over a Unix socket: enough for the Docker Engine API (one request per
/// connection, `Connection: close`, chunked or sized bodies).
struct UnixHTTPClient: Sendable {
    let socketPath: String
    var timeoutSeconds: Int = 30

    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    func request(_ method: String, _ target: String, body: [UInt8]? = nil, timeout: Int? = nil) throws -> Response {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout ?? timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw Failure(description: "socket path too long: \(socketPath)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to \(socketPath): \(String(cString: strerror(errno)))") }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: docker\r\nUser-Agent: kura\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" } else if method == "POST" { head += "Content-Length: 0\r\n" }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + (body ?? []))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { if errno == EINTR { continue }; throw Failure(description: "reading from \(socketPath): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            data += buffer[0..<n]
            if let r = try? UnixHTTPClient.parse(data), r.complete { return r.response }
        }
        let parsed = try UnixHTTPClient.parse(data)
        return parsed.response
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; throw Failure(description: "writing to \(socketPath): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// Parses a response; `complete` is false while the body is still incomplete.
    static func parse(_ data: [UInt8]) throws -> (response: Response, complete: Bool) {
        let sep: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, data.count - 3)).first(where: { data[$0..<$0 + 4].elementsEqual(sep) }) else {
            throw Failure(description: "incomplete HTTP response")
        }
        let headText = String(decoding: data[..<end], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad HTTP status line") }
        var headers: [String: String] = [:]
        for l in lines { if let c = l.firstIndex(of: ":") { headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces) } }
        var body = Array(data[(end + 4)...])
        var complete = false
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var out: [UInt8] = []
            var i = 0
            while true {
                guard let lineEnd = (i..<max(i, body.count - 1)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 }) else { break }
                let sizeText = String(decoding: body[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw Failure(description: "bad chunk size") }
                if size == 0 { complete = true; break }
                let start = lineEnd + 2
                guard start + size <= body.count else { break }
                out += body[start..<start + size]
                i = start + size + 2
            }
            body = out
        } else if let len = headers["content-length"].flatMap({ Int($0) }) {
            complete = body.count >= len
            body = Array(body.prefix(len))
        } else if status == 204 || status == 304 {
            complete = true
        }
        return (Response(status: status, headers: headers, body: body), complete)
    }
}

/// The Docker operations a backup needs: where a volume's data is, which containers use it, and
/// stopping/pausing them around the backup.
public struct DockerClient: Sendable {
    public let settings: DockerSettings
    public init(settings: DockerSettings) { self.settings = settings }

    var http: UnixHTTPClient { UnixHTTPClient(socketPath: settings.socket) }

    /// Whether the API socket exists.
    public var apiAvailable: Bool {
        var st = stat()
        return stat(settings.socket, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    public struct Resolution: Sendable, Equatable {
        public var volume: String
        public var path: String
        /// "api" or "fallback".
        public var via: String
        public var warning: String?
        public init(volume: String, path: String, via: String, warning: String? = nil) {
            self.volume = volume; self.path = path; self.via = via; self.warning = warning
        }
    }

    /// The folder holding a volume's data: its Mountpoint from the API, else (no socket, or the API fails)
    /// `<root>/volumes/<name>/_data` if that exists.
    public func resolve(volume: String) throws -> Resolution {
        var warning: String?
        if apiAvailable {
            do {
                let r = try http.request("GET", "/volumes/\(Self.escape(volume))")
                if r.status == 200,
                   let obj = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
                   let mp = obj["Mountpoint"] as? String, !mp.isEmpty {
                    return Resolution(volume: volume, path: mp, via: "api")
                }
                if r.status == 404 {
                    throw KuraError(.notFound, "Docker has no volume named \"\(volume)\"", hint: "list them with `docker volume ls`; fix `volume` in the configuration")
                }
                warning = "the Docker API answered \(r.status) for volume \(volume); using the folder under \(settings.root)"
            } catch let e as KuraError { throw e } catch {
                warning = "the Docker API at \(settings.socket) failed (\(error)); using the folder under \(settings.root)"
            }
        }
        let path = settings.root + "/volumes/\(volume)/_data"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw KuraError(.notFound, "cannot find Docker volume \"\(volume)\": \(apiAvailable ? "" : "no Docker API at \(settings.socket), and ")\(path) does not exist",
                            hint: "check the volume name (`docker volume ls`) and that Docker runs; [docker] socket/root set other locations")
        }
        return Resolution(volume: volume, path: path, via: "fallback", warning: warning)
    }

    public struct Container: Sendable, Equatable {
        public var id: String
        public var name: String
        public var state: String
    }

    /// Running containers that mount any of `volumes`.
    public func containers(using volumes: [String]) throws -> [Container] {
        var seen = Set<String>()
        var out: [Container] = []
        for v in volumes {
            let filter = "{\"volume\":[\"\(v)\"]}"
            let r = try http.request("GET", "/containers/json?filters=\(Self.escape(filter))")
            guard r.status == 200, let list = try JSONSerialization.jsonObject(with: Data(r.body)) as? [[String: Any]] else {
                throw KuraError(.fatal, "the Docker API did not list the containers using volume \(v) (HTTP \(r.status): \(r.text.prefix(200)))")
            }
            for c in list {
                guard let id = c["Id"] as? String, seen.insert(id).inserted else { continue }
                let name = ((c["Names"] as? [String])?.first ?? id).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                out.append(Container(id: id, name: name, state: c["State"] as? String ?? "running"))
            }
        }
        return out
    }

    /// POST /containers/<id>/<action>; 204 and 304 (already in that state) are success.
    public func perform(_ action: String, _ container: Container) throws {
        let query = action == "stop" ? "?t=\(settings.stopTimeout)" : ""
        let r = try http.request("POST", "/containers/\(Self.escape(container.id))/\(action)\(query)", timeout: settings.stopTimeout + 30)
        guard r.status == 204 || r.status == 304 || r.status == 200 else {
            throw KuraError(.fatal, "docker \(action) \(container.name) failed: HTTP \(r.status) \(r.text.prefix(300))")
        }
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}
