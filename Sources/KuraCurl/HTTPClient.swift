import CCurl
import Foundation

/// One HTTP request: method, URL, header fields, an optional body from bytes, and optionally a byte range.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The full URL. Over a Unix socket the host part only fills the Host header (`http://docker/…`).
    public var url: String
    public var headers: [(name: String, value: String)]
    /// The body; nil sends none. A POST or PUT with an empty body still sends `Content-Length: 0`.
    public var body: [UInt8]?
    /// Bytes `lowerBound...upperBound` of the resource (a `Range` request; the server answers 206).
    public var range: ClosedRange<Int64>?
    /// Seconds the whole transfer may take, and the connection attempt.
    public var timeoutSeconds: Int
    public var connectTimeoutSeconds: Int

    public init(_ method: String, _ url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
                range: ClosedRange<Int64>? = nil, timeoutSeconds: Int = 30, connectTimeoutSeconds: Int = 10) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.range = range
        self.timeoutSeconds = timeoutSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}

/// What the server answered.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header fields in the order received (names as the server spelled them).
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first field called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// kura's one HTTP client: libcurl, over TCP (http, https) or a Unix socket. It keeps one easy handle
/// and resets it between requests, so consecutive requests to one server reuse the connection.
/// Blocking, and for one thread at a time: run it on a thread of its own. Redirects are not followed.
public final class HTTPClient {
    private let easy: CurlEasy
    private let unixSocketPath: String?
    private let protocols: String
    private let userAgent: String

    /// - Parameters:
    ///   - unixSocketPath: connect to this socket instead of the URL's host (the Docker Engine API).
    ///   - protocols: the URL schemes allowed (a typo or a redirect cannot reach `file://`).
    ///   - responseLimit: how much of a response body is kept (the rest is read and dropped); nil keeps all.
    public init(unixSocketPath: String? = nil, protocols: String = "http,https", responseLimit: Int? = nil,
                userAgent: String = "kura") throws {
        easy = try CurlEasy(responseLimit: responseLimit)
        self.unixSocketPath = unixSocketPath
        self.protocols = protocols
        self.userAgent = userAgent
    }

    /// Sends `request` and returns the response, whatever its status. Throws ``CurlEasy/Failure`` when no
    /// response came (cannot connect, time-out, TLS failure).
    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        try easy.reset()
        try easy.allowProtocols(protocols)
        try easy.set(CURLOPT_URL, request.url)
        if let unixSocketPath { try easy.set(CURLOPT_UNIX_SOCKET_PATH, unixSocketPath) }
        try easy.set(CURLOPT_USERAGENT, userAgent)
        try easy.set(CURLOPT_FOLLOWLOCATION, 0)
        try easy.set(CURLOPT_TIMEOUT, max(1, request.timeoutSeconds))
        try easy.set(CURLOPT_CONNECTTIMEOUT, max(1, min(request.timeoutSeconds, request.connectTimeoutSeconds)))
        var fields = request.headers.map { "\($0.name): \($0.value)" }
        if !request.headers.contains(where: { $0.name.caseInsensitiveCompare("Expect") == .orderedSame }) {
            fields.append("Expect:")  // no "100-continue" round trip before a large body
        }
        try easy.set(CURLOPT_HTTPHEADER, list: fields)
        if let range = request.range { try easy.set(CURLOPT_RANGE, "\(range.lowerBound)-\(range.upperBound)") }
        switch (request.method, request.body) {
        case ("GET", nil): break
        case ("HEAD", nil): try easy.set(CURLOPT_NOBODY, 1)
        case (let method, nil) where method == "POST" || method == "PUT":
            try easy.setBody([], method: method)
        case (let method, nil): try easy.set(CURLOPT_CUSTOMREQUEST, method)
        case (let method, let body?): try easy.setBody(body, method: method)
        }
        let (status, body) = try easy.perform()
        return HTTPResponse(status: status, headers: easy.responseHeaders, body: body)
    }
}
