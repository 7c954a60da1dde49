import Foundation
import KuraCurl
import KuraRepository

/// The Docker Engine API: HTTP over its Unix socket, through KuraCurl's client (libcurl handles
/// chunked and sized bodies, keep-alive and time-outs).
struct DockerAPI: Sendable {
    let socketPath: String
    var timeoutSeconds: Int = 30

    /// `method target` (a path with its query, e.g. `/volumes/media`), with an empty body for POST.
    func request(_ method: String, _ target: String, timeout: Int? = nil) throws -> HTTPResponse {
        let client = try HTTPClient(unixSocketPath: socketPath, protocols: "http")
        // The host name only fills the Host header: the connection goes to the socket.
        return try client.send(HTTPRequest(method, "http://docker" + target, timeoutSeconds: timeout ?? timeoutSeconds))
    }
}

/// The Docker operations a backup needs: where a volume's data is, which containers use it, and
/// stopping/pausing them around the backup.
public struct DockerClient: Sendable {
    public let settings: DockerSettings
    public init(settings: DockerSettings) { self.settings = settings }

    var http: DockerAPI { DockerAPI(socketPath: settings.socket) }

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
