import Foundation
import KuraCore
import KuraCrypto
import KuraCurl
import Synchronization

/// How an ``S3Store`` talks to its service: region, credentials, addressing and limits.
public struct S3Options: Sendable {
    /// How the bucket is named in a request.
    public enum Addressing: String, Sendable, Hashable {
        /// `https://host/bucket/key` (any S3-compatible service; the only form for IP addresses).
        case path
        /// `https://bucket.host/key` (AWS's preferred form).
        case virtualHost
    }

    /// The signing region; nil: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    public var region: String?
    /// The service endpoint (`https://host[:port]`) for locations of the form `s3://BUCKET[/PREFIX]`,
    /// which are then addressed virtual-host style (`https://BUCKET.host/key`); see ``StoreFactory``.
    public var endpoint: String?
    /// The key to sign with; nil: from ``environment``, or from ``credentialsFile``/``profile`` when set
    /// (see ``S3Credentials/resolve(environment:for:profile:file:)``).
    public var credentials: S3Credentials?
    /// A profile of the credentials file to use instead of the environment's keys (kura.toml `s3-profile`).
    public var profile: String?
    /// An AWS-style credentials file to use instead of the environment's keys (kura.toml
    /// `s3-credentials-file`; must not be readable by group or others).
    public var credentialsFile: String?
    /// Where credentials and the region are looked up; nil: the process's environment.
    public var environment: [String: String]?
    public var addressing: Addressing
    /// Connections (and so requests) in flight at once.
    public var maxConcurrentRequests: Int
    /// Keys per ListObjectsV2 page (S3's maximum is 1000; tests lower it to exercise continuation tokens).
    public var maxKeysPerList: Int
    /// Seconds one request may take in all (a 16 MiB pack at 1 MB/s fits).
    public var requestTimeoutSeconds: Int
    /// Object Lock retention set on every object put (but those under its exempt prefixes); nil: none
    /// (the bucket's default retention, if it has one, still applies).
    public var objectLock: S3ObjectLock?

    public init(region: String? = nil, endpoint: String? = nil, credentials: S3Credentials? = nil, environment: [String: String]? = nil,
                addressing: Addressing = .path, maxConcurrentRequests: Int = 8, maxKeysPerList: Int = 1000,
                requestTimeoutSeconds: Int = 120, objectLock: S3ObjectLock? = nil) {
        self.region = region
        self.endpoint = endpoint
        self.credentials = credentials
        self.environment = environment
        self.addressing = addressing
        self.maxConcurrentRequests = maxConcurrentRequests
        self.maxKeysPerList = maxKeysPerList
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.objectLock = objectLock
    }
}

/// An ``ObjectStore`` in a bucket of an S3-compatible service (AWS S3, Ceph RGW, Garage, SeaweedFS,
/// moto): every key is stored as `prefix/key`. Requests go through ``HTTPClient`` (libcurl) with AWS
/// Signature V4 (``S3Signer``), on Dispatch threads, over a small pool of kept-alive connections.
///
/// What S3 does not do by itself, this store does, so that it behaves like ``LocalStore``:
/// - **the object/directory rule** (a key is never both an object and a "directory" of others): before a
///   put, each directory level of the key is checked not to be an object (a HEAD, once per level per
///   store: the answer is remembered) and the key not to have objects below it (a LIST of at most one
///   key) — except for content-named keys (a 64-hex SHA-256 as the last component): they live in
///   kura's fixed folders, which are never objects, and nothing is ever stored below them. So a pack,
///   index file, snapshot or lock costs one PUT; other keys (`config`) a PUT, a HEAD per level and a LIST. S3 offers no atomic check, so two hosts racing to create `a` and `a/b` could both
///   succeed; kura's own keys never clash.
/// - **payload hashes**: a content-named object's name is its body's SHA-256, so it is the signature's
///   `x-amz-content-sha256` (S3 checks it against the body) and the body is not hashed again.
/// - **notFound on delete**: S3 answers 204 for a missing key, so delete first HEADs the object.
/// - **ranges**: an empty range needs no transfer (a HEAD checks the size); a range reaching past the
///   end, which S3 silently shortens, is ``ObjectStoreError/Code/rangeNotSatisfiable``.
///
/// Errors: 404 → notFound; 403 → permissionDenied (with S3's code, e.g. `SignatureDoesNotMatch`);
/// 416 → rangeNotSatisfiable; 5xx, `SlowDown`, `RequestTimeout`, time-outs and connection resets →
/// unavailable, which ``RetryingStore`` retries.
public final class S3Store: ObjectStore {
    public let location: String
    public let maxConcurrentRequests: Int
    /// Every read is a billed request over the network.
    public var isRemote: Bool { true }
    private let s3: S3Location
    private let options: S3Options
    private let signer: S3Signer
    private let pool = Mutex<[ClientBox]>([])
    /// Directory levels (full keys) known not to be objects: checked once per store.
    private let knownDirectories = Mutex<Set<String>>([])

    /// A store for `location`; no request is made until the first operation. Throws
    /// ``S3CredentialsError`` when no credentials are given or found.
    public init(_ location: S3Location, options: S3Options = S3Options()) throws(S3CredentialsError) {
        let environment = options.environment ?? ProcessInfo.processInfo.environment
        self.location = location.description
        s3 = location
        self.options = options
        maxConcurrentRequests = max(1, options.maxConcurrentRequests)
        let credentials: S3Credentials
        if let given = options.credentials { credentials = given }
        else {
            credentials = try S3Credentials.resolve(environment: environment, for: location.description,
                                                    profile: options.profile, file: options.credentialsFile)
        }
        let region = options.region ?? environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        signer = S3Signer(credentials: credentials, region: region)
    }

    // MARK: ObjectStore

    public func put(_ key: String, data: [UInt8]) async throws {
        let key = try ObjectKey(key, location: location)
        try await checkNoClash(key)
        // Content-MD5 on every upload: S3 requires it for objects under Object Lock, including a bucket's
        // default retention, which kura cannot see (and it checks the body against it).
        var headers = [("Content-MD5", Data(MD5.hash(data)).base64EncodedString())]
        if let lock = options.objectLock, lock.applies(to: key.string) {
            headers += [("x-amz-object-lock-mode", lock.mode.rawValue), ("x-amz-object-lock-retain-until-date", lock.retainUntil())]
        }
        // A content-named object's name is the SHA-256 of its bytes (docs/design.md §2): the signature's
        // payload hash without hashing 16 MiB again. A wrong name is refused by S3 (400
        // XAmzContentSHA256Mismatch), never stored under it.
        let contentName = S3Store.contentName(key.string)
        let response = try await send("PUT", key: key.string, headers: headers, body: data, bodyHash: contentName)
        guard response.status == 200 else {
            var error = failure(response, key: key.string, operation: "put")
            if contentName != nil, response.text.contains("XAmzContentSHA256Mismatch") {
                error.message += " — the object's name is not the SHA-256 of its bytes, which every kura object's name must be"
            }
            if response.status == 400, headers.count > 1 {
                error.message += " — the object was sent with an Object Lock retention: the bucket must have been created with Object Lock enabled"
            }
            throw error
        }
        // The key is an object now, not a directory level.
        knownDirectories.withLock { _ = $0.remove(fullKey(key.string)) }
    }

    public func delete(_ key: String) async throws {
        let key = try ObjectKey(key, location: location)
        _ = try await stat(key.string)   // S3 deletes missing keys "successfully"; the contract says notFound
        let response = try await send("DELETE", key: key.string)
        guard response.status == 204 || response.status == 200 else { throw failure(response, key: key.string, operation: "delete") }
    }

    public func get(_ key: String) async throws -> [UInt8] {
        let key = try ObjectKey(key, location: location)
        let response = try await send("GET", key: key.string)
        guard response.status == 200 else { throw failure(response, key: key.string, operation: "get") }
        return response.body
    }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        let key = try ObjectKey(key, location: location)
        if range.lowerBound < 0 {
            try ObjectRange.check(range, size: Int.max, key: key.string, location: location)
        }
        if range.isEmpty {
            let size = try await stat(key.string).size
            try ObjectRange.check(range, size: size, key: key.string, location: location)
            return []
        }
        let response = try await send("GET", key: key.string, range: Int64(range.lowerBound)...Int64(range.upperBound - 1))
        switch response.status {
        case 206:
            guard response.body.count == range.count else {
                // S3 shortens a range that reaches past the end; the total is after the "/".
                let total = response.header("Content-Range").flatMap { $0.split(separator: "/").last.flatMap { Int($0) } }
                try ObjectRange.check(range, size: total ?? range.lowerBound + response.body.count, key: key.string, location: location)
                throw ObjectStoreError(.io, key: key.string, location: location,
                                       message: "ranged get \(range) returned \(response.body.count) bytes")
            }
            return response.body
        case 200:   // a server that ignores Range sends the whole object
            try ObjectRange.check(range, size: response.body.count, key: key.string, location: location)
            return Array(response.body[range])
        default:
            throw failure(response, key: key.string, operation: "get \(range)")
        }
    }

    public func stat(_ key: String) async throws -> ObjectInfo {
        let key = try ObjectKey(key, location: location)
        let response = try await head(key.string)
        guard response.status == 200 else { throw failure(response, key: key.string, operation: "stat") }
        guard let size = response.header("Content-Length").flatMap({ Int($0) }) else {
            throw ObjectStoreError(.io, key: key.string, location: location, message: "the answer to HEAD has no Content-Length")
        }
        return ObjectInfo(key: key.string, size: size)
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try ObjectKey.validatePrefix(prefix, location: location)
        let base = s3.prefix.isEmpty ? "" : s3.prefix + "/"
        var result: [ObjectInfo] = []
        for (key, size) in try await listKeys(fullPrefix: base + prefix, maxKeys: options.maxKeysPerList, all: true) {
            guard key.hasPrefix(base) else { continue }
            let relative = String(key.dropFirst(base.count))
            // Objects kura cannot have written (other tools' files) are not part of the store.
            guard (try? ObjectKey(relative, location: location)) != nil else { continue }
            result.append(ObjectInfo(key: relative, size: size))
        }
        result.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return result
    }

    /// A HEAD of `key`. A HEAD answer has no body, so a 403 gives no reason: then one GET of a byte
    /// fetches the error document that says whether the key id is unknown, the signature wrong, or a
    /// policy forbids the read.
    private func head(_ key: String) async throws(ObjectStoreError) -> HTTPResponse {
        let response = try await send("HEAD", key: key)
        guard response.status == 403 else { return response }
        let detail = try await send("GET", key: key, range: 0...0)
        return detail.status == 403 ? detail : response
    }

    // MARK: the object/directory rule

    /// The key's last component when it is a content name: 64 lower-case hex digits, the SHA-256 of the
    /// object's bytes under kura's naming rule.
    static func contentName(_ key: String) -> String? {
        let last = key.split(separator: "/").last.map(String.init) ?? key
        guard last.utf8.count == 64, last.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        return last
    }

    private func checkNoClash(_ key: ObjectKey) async throws {
        // Content-named keys live in the repository's fixed folders (data/ab/, index/, snapshots/, …),
        // which are never objects, and nothing is ever stored below them: no request at all.
        if S3Store.contentName(key.string) != nil { return }
        var level = ""
        for component in key.parents {
            level += level.isEmpty ? String(component) : "/" + component
            let full = fullKey(level)
            if knownDirectories.withLock({ $0.contains(full) }) { continue }
            let response = try await head(level)
            switch response.status {
            case 200:
                throw ObjectStoreError(.alreadyExists, key: key.string, location: location,
                                       message: "cannot store an object here: \"\(level)\" is an object, not a directory")
            case 404:
                knownDirectories.withLock { _ = $0.insert(full) }
            default:
                throw failure(response, key: level, operation: "stat")
            }
        }
        if try await !listKeys(fullPrefix: fullKey(key.string) + "/", maxKeys: 1, all: false).isEmpty {
            throw ObjectStoreError(.alreadyExists, key: key.string, location: location,
                                   message: "cannot store an object here: objects exist below this key")
        }
    }

    /// Keys (full, with the store's prefix) and sizes under `fullPrefix`; every page when `all`.
    private func listKeys(fullPrefix: String, maxKeys: Int, all: Bool) async throws -> [(String, Int)] {
        var found: [(String, Int)] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("max-keys", String(maxKeys)), ("prefix", fullPrefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send("GET", key: nil, query: query)
            guard response.status == 200 else { throw failure(response, key: fullPrefix, operation: "list") }
            guard let page = S3XML.listPage(response.text) else {
                throw ObjectStoreError(.io, key: fullPrefix, location: location, message: "the service's answer to a listing is not a ListObjectsV2 result")
            }
            found += page.objects.map { ($0.key, $0.size) }
            token = page.isTruncated ? page.nextContinuationToken : nil
            if page.isTruncated && token == nil {
                throw ObjectStoreError(.io, key: fullPrefix, location: location, message: "a truncated listing came without a continuation token")
            }
        } while all && token != nil
        return found
    }

    // MARK: requests

    private func fullKey(_ key: String) -> String { s3.prefix.isEmpty ? key : s3.prefix + "/" + key }

    /// Host header value: `host[:port]` (IPv6 in brackets), with the bucket in front for virtual hosts.
    private var hostHeader: String {
        var host = s3.host.contains(":") ? "[\(s3.host)]" : s3.host
        if options.addressing == .virtualHost { host = s3.bucket + "." + host }
        if let port = s3.port { host += ":\(port)" }
        return host
    }

    /// Sends one signed request for `key` (nil: the bucket itself) and returns the answer, whatever its
    /// status; a request that got no answer (cannot connect, time-out, reset) is `.unavailable`.
    private func send(_ method: String, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
                      body: [UInt8]? = nil, bodyHash: String? = nil, range: ClosedRange<Int64>? = nil) async throws(ObjectStoreError) -> HTTPResponse {
        var path = options.addressing == .path ? "/" + s3.bucket : ""
        if let key { path += "/" + S3Signer.uriEncode(fullKey(key), keepSlash: true) }
        if path.isEmpty { path = "/" }
        let queryString = S3Signer.canonicalQuery(query)
        let url = "\(s3.scheme.rawValue)://\(hostHeader)\(path)" + (queryString.isEmpty ? "" : "?" + queryString)
        var headers: [(String, String)] = [("Host", hostHeader)]
        if let range { headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        // libcurl sends a body as a form post unless told otherwise; S3 stores the type with the object.
        if body != nil { headers.append(("Content-Type", "application/octet-stream")) }
        headers += extra
        let payloadHash = bodyHash ?? S3Signer.hex(SHA256.hash(body ?? []))
        let signed = signer.sign(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash,
                                 amzDate: S3Signer.now())
        // The Range goes in as a header (signed above), not through CURLOPT_RANGE.
        let request = HTTPRequest(method, url, headers: headers.map { ($0.0, $0.1) } + signed, body: body,
                                  timeoutSeconds: options.requestTimeoutSeconds)
        let client = try takeClient()
        do {
            let response = try await BlockingThreads.run { try client.client.send(request) }
            giveBack(client)
            return response
        } catch {
            // The handle may be in any state after a failed transfer: drop it, with its connection.
            throw ObjectStoreError(.unavailable, key: key ?? query.first(where: { $0.0 == "prefix" })?.1, location: location,
                                   message: "\(method) request failed: \(error)", cause: error)
        }
    }

    private func takeClient() throws(ObjectStoreError) -> ClientBox {
        if let client = pool.withLock({ $0.popLast() }) { return client }
        do {
            return ClientBox(try HTTPClient(protocols: "http,https", responseLimit: nil, userAgent: "kura"))
        } catch {
            throw ObjectStoreError(.io, location: location, message: "cannot set up an HTTP client: \(error)")
        }
    }

    private func giveBack(_ client: ClientBox) {
        pool.withLock { if $0.count < maxConcurrentRequests { $0.append(client) } }
    }

    /// The error for an answer that was not the success expected.
    private func failure(_ response: HTTPResponse, key: String, operation: String) -> ObjectStoreError {
        let s3Error = S3XML.error(response.text)
        var message = "\(operation): HTTP \(response.status)"
        if let s3Error { message += " \(s3Error.code)" + (s3Error.message.isEmpty ? "" : ": \(s3Error.message)") }
        let code: ObjectStoreError.Code
        switch (response.status, s3Error?.code) {
        case (_, "SlowDown"?), (_, "RequestTimeout"?), (_, "InternalError"?), (_, "ServiceUnavailable"?):
            code = .unavailable
        case (404, _):
            code = .notFound
            if s3Error?.code == "NoSuchBucket" { message += " (the bucket does not exist: kura does not create buckets)" }
            else if s3Error == nil || s3Error?.code == "NoSuchKey" { message = "no such object" }
        case (401, _), (403, _):
            code = .permissionDenied
            if s3Error?.code == "SignatureDoesNotMatch" || s3Error?.code == "InvalidAccessKeyId" {
                message += " — the access key or secret key is wrong"
            }
        case (416, _):
            code = .rangeNotSatisfiable
        case (500..., _), (408, _), (429, _):
            code = .unavailable
        default:
            code = .io
        }
        // Any other client error (400 InvalidRequest, InvalidArgument, …) is the request's fault: the same
        // request would get the same answer, so it is not retried (EINVAL marks it not transient). A body
        // that arrived damaged (BadDigest, a payload hash mismatch) may arrive whole the next time.
        var errno: Int32?
        if code == .io, (400..<500).contains(response.status),
           !["BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody"].contains(s3Error?.code ?? "") {
            errno = EINVAL
        }
        return ObjectStoreError(code, key: key, location: location, message: message, errno: errno)
    }
}

/// An ``HTTPClient`` handed between Dispatch threads: used by one request at a time (the pool makes sure).
private final class ClientBox: @unchecked Sendable {
    let client: HTTPClient
    init(_ client: HTTPClient) { self.client = client }
}
