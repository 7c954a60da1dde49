import Foundation
import Hummingbird
import KuraCore
import KuraOperations
import KuraRepository
import KuraRestorer
import Logging
import NIOCore
import Synchronization

/// `kura serve`: a read-only dashboard and Prometheus metrics over HTTP (hummingbird 2).
///
/// Pages: `/` (every source), `/sources/NAME` (its snapshot calendar), `/snapshots/ID?path=/dir` (the
/// snapshot browser), `/snapshots/ID/file?path=…` (one file, streamed from the repository without a
/// mount or a restore), `/snapshots/ID/archive?path=…` (a folder as .tar.gz); JSON under `/api/`;
/// `/metrics` in the Prometheus text format (``MetricsText``, the renderer `kura run --textfile` uses).
/// Everything is read through the libraries: ``Runner/overview(repository:openError:)`` for the
/// figures, ``SnapshotBrowser``, ``ContentStreamer`` and ``Dumper`` for the browser and downloads.
public struct DashboardServer: Sendable {
    public let data: DashboardData
    public let options: DashboardOptions

    /// `options` must have passed ``DashboardOptions/validated()`` (the caller's job, so it can refuse
    /// before anything else happens).
    public init(data: DashboardData, options: DashboardOptions) {
        self.data = data
        self.options = options
    }

    var zone: TimeZone { data.runner.config.timeZone }

    /// The router with every route, behind ``AccessMiddleware``.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: AccessMiddleware(token: options.token))
        let zone = self.zone
        let data = self.data
        let server = self

        router.get("/") { _, _ in html(HTMLPages.overview(await data.overview(), zone: zone)) }
        router.get("/api/overview") { _, _ in try json(await data.overview()) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: MetricsText.contentType],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: MetricsText.render(await data.overview()))))
        }
        router.get("/sources/:name") { _, context in
            try await page {
                let name = try context.parameters.require("name")
                let list = try await data.snapshots(ofSource: name)
                let o = await data.overview()
                return html(HTMLPages.source(name, status: o.sources.first { $0.status.name == name }, snapshots: list, zone: zone, now: o.generatedAt))
            }
        }
        router.get("/api/sources/:name/snapshots") { _, context in
            try await api { try json(try await data.snapshots(ofSource: try context.parameters.require("name")).map(SnapshotInfo.init)) }
        }
        router.get("/api/snapshots/:id") { _, context in
            try await api { try json(SnapshotInfo(try await data.snapshot(try context.parameters.require("id")))) }
        }
        router.get("/snapshots/:id") { request, context in
            try await page {
                let (snapshot, entry, browser) = try await server.resolve(request, context)
                guard entry.isDirectory else {
                    throw KuraError(.invalidArgument, "\(PathBytes.display(entry.path)) is a file", hint: "download it from /snapshots/ID/file?path=…")
                }
                return html(HTMLPages.directory(snapshot, path: entry.path, entries: try await server.children(entry, browser), zone: zone))
            }
        }
        router.get("/api/snapshots/:id/ls") { request, context in
            try await api {
                let (snapshot, entry, browser) = try await server.resolve(request, context)
                guard entry.isDirectory else { throw KuraError(.invalidArgument, "\(PathBytes.display(entry.path)) is not a folder") }
                return try json(Listing(snapshot: snapshot, path: entry.path, entries: try await server.children(entry, browser)))
            }
        }
        router.get("/snapshots/:id/file") { request, context in
            try await page { try await server.download(request, context) }
        }
        router.get("/snapshots/:id/archive") { request, context in
            try await page { try await server.archive(request, context) }
        }

        return router
    }

    /// The snapshot, the entry at `?path=` (default /) and a browser over it.
    func resolve(_ request: Request, _ context: BasicRequestContext) async throws -> (Snapshot, SnapshotEntry, SnapshotBrowser) {
        let snapshot = try await data.snapshot(try context.parameters.require("id"))
        let path = PathQuery.parameter("path", in: request.uri.query) ?? [47]
        guard path.first == 47 else { throw KuraError(.invalidArgument, "path must be absolute (start with /)") }
        let browser = SnapshotBrowser(repository: try await data.openRepository(), snapshot: snapshot)
        return (snapshot, try await browser.entry(at: path), browser)
    }

    func children(_ entry: SnapshotEntry, _ browser: SnapshotBrowser) async throws -> [SnapshotEntry] {
        var out: [SnapshotEntry] = []
        try await browser.walk(entry) { out.append($0); return false }
        return out
    }

    /// One file, streamed chunk by chunk as it is read from the repository (a few chunks ahead).
    func download(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (_, entry, browser) = try await resolve(request, context)
        guard let node = entry.node, node.type == .file else {
            throw KuraError(.invalidArgument, "\(PathBytes.display(entry.path)) is not a file", hint: "folders: /snapshots/ID/archive?path=…")
        }
        let repository = browser.repository
        let content = node.content
        return Response(status: .ok,
                        headers: [.contentType: "application/octet-stream", .contentDisposition: disposition(node.name), .xContentTypeOptions: "nosniff",
                                  .contentLength: String(node.size), .cacheControl: "no-store"],
                        body: ResponseBody(contentLength: Int(node.size)) { writer in
                            try await ContentStreamer(repository: repository).stream(content) { bytes in
                                try await writer.write(ByteBuffer(bytes: bytes))
                            }
                            try await writer.finish(nil)
                        })
    }

    /// A folder (or file) as a .tar.gz stream (``Dumper``), sent piece by piece as it is made.
    func archive(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let (_, entry, browser) = try await resolve(request, context)
        let name = (PathBytes.components(entry.path).last ?? Array("snapshot".utf8)) + Array(".tar.gz".utf8)
        return Response(status: .ok,
                        headers: [.contentType: "application/gzip", .contentDisposition: disposition(name), .cacheControl: "no-store"],
                        body: ResponseBody { writer in
                            let pending = Mutex<[UInt8]>([])
                            try await Dumper(browser: browser).dump(entry, format: .tarGz, sink: { bytes in
                                pending.withLock { $0 += bytes }
                            }, drain: {
                                let out = pending.withLock { p -> [UInt8] in defer { p = [] }; return p }
                                if out.count > 0 { try await writer.write(ByteBuffer(bytes: out)) }
                            })
                            try await writer.finish(nil)
                        })
    }

    /// The application, listening where the options say. `onRunning` gets the bound port (useful with
    /// port 0).
    public func application(logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        Application(router: router(),
                    configuration: .init(address: .hostname(options.host, port: options.port), serverName: "kura"),
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? options.port) },
                    logger: logger)
    }
}

// MARK: - Responses

/// A snapshot as the API shows it.
struct SnapshotInfo: Codable, Sendable {
    var id: String
    var time: Date
    var host: String
    var paths: [String]
    var tags: [String]
    var source: String?
    var files: Int?
    var totalBytes: UInt64?
    var bytesStored: UInt64?
    var incomplete: Bool
    /// A "full": the backup re-read every file (`full-every`), tagged `full`.
    var full: Bool
    var parent: String?

    init(_ s: Snapshot) {
        id = s.id?.hex ?? ""; time = s.date; host = s.host; paths = s.paths; tags = s.tags
        source = s.tags.first { $0.hasPrefix("source:") }.map { String($0.dropFirst(7)) }
        files = s.summary?.files; totalBytes = s.summary?.totalBytes; bytesStored = s.summary?.bytesStored
        incomplete = s.incomplete; full = s.tags.contains("full"); parent = s.parent
    }
}

/// A folder of a snapshot as the API shows it.
struct Listing: Codable, Sendable {
    struct Entry: Codable, Sendable {
        var name: String
        var path: String
        /// The path percent-encoded byte by byte, for `?path=` (names need not be UTF-8).
        var query: String
        var type: String
        var size: UInt64
        var mode: UInt32
        var mtime: Date
        var linkTarget: String?
    }
    var snapshot: String
    var path: String
    var entries: [Entry]

    init(snapshot: Snapshot, path: [UInt8], entries: [SnapshotEntry]) {
        self.snapshot = snapshot.id?.hex ?? ""
        self.path = PathBytes.display(path)
        self.entries = entries.compactMap { e in
            guard let n = e.node else { return nil }
            return Entry(name: n.displayName, path: PathBytes.display(e.path), query: PathQuery.encode(e.path), type: "\(n.type)",
                         size: n.size, mode: n.mode, mtime: Date(timeIntervalSince1970: Double(n.mtime.seconds)),
                         linkTarget: n.type == .symlink ? PathBytes.display(n.linkTarget) : nil)
        }
    }
}

let jsonEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    e.dateEncodingStrategy = .iso8601
    return e
}()

func json(_ value: some Encodable) throws -> Response {
    Response(status: .ok, headers: [.contentType: "application/json"],
             body: ResponseBody(byteBuffer: ByteBuffer(bytes: try jsonEncoder.encode(value) + [10])))
}

/// Pages carry no script and load nothing: the policy says so, so that a name in a snapshot that got
/// past the escaping could still not run anything; no framing, no sniffing, no referrer.
let pageHeaders: HTTPFields = [
    .contentType: "text/html; charset=utf-8",
    .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'",
    .xContentTypeOptions: "nosniff", .init("Referrer-Policy")!: "no-referrer",
]

func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: pageHeaders, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
}

/// The HTTP status for an error: 404 not found, 400 bad input, 503 repository unreachable, else 500.
func httpStatus(_ e: KuraError) -> HTTPResponse.Status {
    switch e.code {
    case .notFound: return .notFound
    case .invalidArgument, .usage: return .badRequest
    case .noRepository, .wrongPassword, .io, .locked: return .serviceUnavailable
    default: return .internalServerError
    }
}

/// Runs a page handler; a failure becomes an HTML error page with the error's message and hint.
func page(_ body: () async throws -> Response) async throws -> Response {
    do { return try await body() } catch {
        let e = KuraError.from(error)
        let status = httpStatus(e)
        return html(HTMLPages.error(status.code, e.message, hint: e.hint), status: status)
    }
}

/// Runs an API handler; a failure becomes `{"error": {"code", "message", "hint"}}`.
func api(_ body: () async throws -> Response) async throws -> Response {
    do { return try await body() } catch {
        let e = KuraError.from(error)
        struct Body: Encodable { struct E: Encodable { var code: String; var message: String; var hint: String? }; var error: E }
        var r = try json(Body(error: .init(code: e.code.description, message: e.message, hint: e.hint)))
        r.status = httpStatus(e)
        return r
    }
}

/// `attachment; filename="…"` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987).
func disposition(_ name: [UInt8]) -> String {
    let ascii = String(decoding: name.map { (0x20..<0x7F).contains($0) && $0 != 0x22 && $0 != 0x5C ? $0 : 0x5F }, as: UTF8.self)
    return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(PathQuery.encode(name).replacingOccurrences(of: "/", with: "%2F"))"
}
