import Foundation
import KuraCore
import KuraCrypto
@testable import KuraStore
import KuraStoreTesting
import KuraTestSupport
import Testing

/// The S3 store beyond the shared conformance suite (which runs against it in ``ConformanceTests``):
/// the signer against AWS's published examples, credentials, wrong keys, long listings, faults, and an
/// independent client reading what kura wrote.
@Suite("S3 store")
struct S3StoreTests {
    // MARK: signing (AWS's published examples)

    @Test("SigV4: AWS's S3 GET Object example (Range, x-amz-content-sha256) gives the published signature")
    func awsGetObjectExample() {
        let signer = S3Signer(credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                         secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                              region: "us-east-1")
        let signed = signer.sign(method: "GET", path: "/test.txt", query: [],
                                 headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                                 payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                 amzDate: "20130524T000000Z")
        let authorization = signed.first { $0.name == "Authorization" }?.value
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("SigV4: AWS's S3 GET Bucket (list) example, query encoded and sorted")
    func awsListExample() {
        let signer = S3Signer(credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                         secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                              region: "us-east-1")
        let signed = signer.sign(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
                                 headers: [("Host", "examplebucket.s3.amazonaws.com")],
                                 payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                 amzDate: "20130524T000000Z")
        #expect(signed.first { $0.name == "Authorization" }?.value.hasSuffix(
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true, "\(signed)")
    }

    @Test("SigV4: the AWS test suite's get-vanilla vector")
    func getVanilla() {
        var signer = S3Signer(credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE",
                                                         secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                              region: "us-east-1")
        signer.service = "service"
        let signed = signer.sign(method: "GET", path: "/", query: [], headers: [("Host", "example.amazonaws.com")],
                                 payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                 amzDate: "20150830T123600Z", signPayloadHeader: false)
        #expect(signed.first { $0.name == "Authorization" }?.value ==
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test("query encoding: only unreserved characters stay; '/' and ':' are encoded; sorted by name")
    func queryEncoding() {
        #expect(S3Signer.canonicalQuery([("prefix", "a/b:c d"), ("continuation-token", "x+y="), ("list-type", "2")])
                == "continuation-token=x%2By%3D&list-type=2&prefix=a%2Fb%3Ac%20d")
        #expect(S3Signer.amzDate(secondsSinceEpoch: 1_369_353_600) == "20130524T000000Z")
    }

    // MARK: credentials

    @Test("credentials: the environment first, then AWS_PROFILE in the shared credentials file; none is a clear error")
    func credentials() throws {
        let scratch = try TemporaryFolder("kura-s3-creds")
        defer { scratch.remove() }
        let env = try S3Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"], for: "x")
        #expect(env == S3Credentials(accessKeyID: "id", secretAccessKey: "s", sessionToken: "t"))

        try "# comment\n[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[backup]\naws_access_key_id=B\naws_secret_access_key=BS\naws_session_token = BT\n"
            .write(toFile: scratch.file("credentials"), atomically: true, encoding: .utf8)
        let file = scratch.file("credentials")
        #expect(try S3Credentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": file], for: "x").accessKeyID == "D")
        #expect(try S3Credentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "backup"], for: "x")
                == S3Credentials(accessKeyID: "B", secretAccessKey: "BS", sessionToken: "BT"))
        try FileManager.default.createDirectory(atPath: scratch.file(".aws"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: file, toPath: scratch.file(".aws/credentials"))
        #expect(try S3Credentials.resolve(environment: ["HOME": scratch.path], for: "x").accessKeyID == "D")

        let missingProfile = #expect(throws: S3CredentialsError.self) {
            try S3Credentials.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "nope"], for: "x")
        }
        #expect(missingProfile?.message.contains("no profile \"nope\"") == true)
        let none = #expect(throws: S3CredentialsError.self) {
            try S3Credentials.resolve(environment: ["HOME": scratch.path + "/empty"], for: "s3:http://h/b")
        }
        #expect(none?.message.contains("no S3 credentials") == true)
        #expect(none?.kuraError.hint?.contains("AWS_ACCESS_KEY_ID") == true)
        let half = #expect(throws: S3CredentialsError.self) { try S3Credentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "id"], for: "x") }
        #expect(half?.message.contains("only one of") == true)
    }

    @Test("the factory opens S3 locations (retrying, limited); without credentials it says so before any request")
    func factory() throws {
        let options = StoreOptions(s3: S3Options(environment: ["HOME": "/nonexistent"]))
        let error = #expect(throws: S3CredentialsError.self) { try StoreFactory.open("s3:https://minio:9000/bucket/p", options: options) }
        #expect(KuraError.from(error!).code == .permissionDenied)
        #expect(KuraError.from(error!).description.contains("no S3 credentials"))
        #expect(throws: S3CredentialsError.self) { try StoreFactory.check("s3://s3.amazonaws.com/bucket", options: options) }

        let store = try StoreFactory.open("s3:https://minio:9000/bucket/p", options: StoreOptions(s3: StoreKind.s3Options))
        #expect(store is RetryingStore)
        #expect((store as? RetryingStore)?.base is LimitedStore)
        #expect(store.maxConcurrentRequests == 8)
        #expect(store.location == "s3:https://minio:9000/bucket/p")
    }

    // MARK: against the loopback server

    @Test("a wrong secret key is refused by the signature check: permissionDenied, saying the key is wrong")
    func wrongSecret() async throws {
        let server = try S3TestServer.shared
        let location = try S3Location(parsing: server.location(prefix: S3TestServer.uniquePrefix()))
        let store = try S3Store(location, options: S3Options(credentials: S3Credentials(accessKeyID: S3TestServer.accessKey,
                                                                                        secretAccessKey: "not-the-secret")))
        let error = try await expectStoreError(.permissionDenied) { try await store.put("config", data: [1, 2, 3]) }
        #expect(error.description.contains("SignatureDoesNotMatch"), "\(error)")
        #expect(error.description.contains("the access key or secret key is wrong"), "\(error)")
        #expect(KuraError.from(error).code == .permissionDenied)
        let unknown = try S3Store(location, options: S3Options(credentials: S3Credentials(accessKeyID: "AKIAUNKNOWN", secretAccessKey: "x")))
        let e2 = try await expectStoreError(.permissionDenied) { try await unknown.list(prefix: "") }
        #expect(e2.description.contains("InvalidAccessKeyId"), "\(e2)")
    }

    @Test("a missing bucket is notFound and says kura does not create buckets")
    func missingBucket() async throws {
        let server = try S3TestServer.shared
        let store = try S3Store(try S3Location(parsing: "s3:\(server.endpoint)/no-such-bucket/p"), options: StoreKind.s3Options)
        let error = try await expectStoreError(.notFound) { try await store.list(prefix: "") }
        #expect(error.description.contains("NoSuchBucket"), "\(error)")
    }

    @Test("listings longer than one page follow continuation tokens (pages of 7 keys, 40 objects)")
    func continuationTokens() async throws {
        let server = try S3TestServer()
        defer { server.stop() }
        let location = try S3Location(parsing: server.location(prefix: "paged"))
        var options = StoreKind.s3Options
        options.maxKeysPerList = 7
        let store = try S3Store(location, options: options)
        let keys = (0..<40).map { "data/\(String(format: "%02x", $0 % 5))/obj-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, key) in keys.enumerated() { group.addTask { try await store.put(key, data: Array(repeating: UInt8(i), count: i)) } }
            try await group.waitForAll()
        }
        try server.resetStats()
        let listed = try await store.list(prefix: "data/")
        #expect(listed.map(\.key) == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(listed.first { $0.key == "data/03/obj-38" }?.size == 38)
        #expect(try server.stats().counts["LIST"] == 6, "40 keys in pages of 7: 6 requests")
    }

    @Test("ranged gets transfer only the range; a range past the end is rangeNotSatisfiable")
    func rangedGet() async throws {
        let server = try S3TestServer.shared
        let store = try S3Store(try S3Location(parsing: server.location(prefix: S3TestServer.uniquePrefix())), options: StoreKind.s3Options)
        let data = randomBytes(100_000, seed: 9)
        try await store.put("data/aa/pack", data: data)
        #expect(try await store.get("data/aa/pack", range: 4096..<8192) == Array(data[4096..<8192]))
        #expect(try await store.get("data/aa/pack", range: 99_999..<100_000) == [data[99_999]])
        try await expectStoreError(.rangeNotSatisfiable) { try await store.get("data/aa/pack", range: 99_999..<100_001) }
        try await expectStoreError(.rangeNotSatisfiable) { try await store.get("data/aa/pack", range: 200_000..<200_001) }
    }

    @Test("an independent client (boto3) lists and reads back what kura wrote, byte for byte")
    func boto3ReadsBack() async throws {
        let server = try S3TestServer.shared
        let prefix = S3TestServer.uniquePrefix("boto")
        let store = try S3Store(try S3Location(parsing: server.location(prefix: prefix)), options: StoreKind.s3Options)
        var expected: [String: String] = [:]
        for i in 0..<5 {
            let data = randomBytes(1000 * i + 17, seed: UInt64(i))
            try await store.put("data/0\(i)/blob\(i)", data: data)
            expected["\(prefix)/data/0\(i)/blob\(i)"] = hexString(sha256(data))
        }
        let script = """
        import boto3, hashlib, json, sys
        s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
        out = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix=sys.argv[3] + "/"):
            for o in page.get("Contents", []):
                out[o["Key"]] = hashlib.sha256(s3.get_object(Bucket=sys.argv[2], Key=o["Key"])["Body"].read()).hexdigest()
        print(json.dumps(out))
        """
        var env = ProcessInfo.processInfo.environment
        env.merge(S3TestServer.environment) { $1 }
        let r = try TestProcess.command(["python3", "-c", script, server.endpoint, S3TestServer.bucket, prefix], environment: env)
        #expect(r.status == 0, "\(r)")
        let read = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: String]
        #expect(read == expected)
    }

    @Test("faults: one request in five 503 SlowDown, one in seven reset; the factory's retries hide them and say so")
    func faultsAreRetried() async throws {
        let server = try S3TestServer()
        defer { server.stop() }
        try server.setFaults(failEvery: 5, resetEvery: 7)
        let retries = Counter()
        let options = StoreOptions(retry: RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20)),
                                   onRetry: { retry in retries.add(retry.error.code == .unavailable ? 1 : 1000) },
                                   s3: StoreKind.s3Options)
        let store = try StoreFactory.open(server.location(prefix: "faulty"), options: options)
        for check in ObjectStoreConformance.allCases where check != .concurrentPutsAndDeletes {
            let fresh = try StoreFactory.open(server.location(prefix: S3TestServer.uniquePrefix()), options: options)
            try await check.run(on: fresh)
        }
        try await ObjectStoreConformance.roundTrip.run(on: store)
        let injected = try server.stats().injected
        #expect((injected["slowdown"] ?? 0) > 10, "\(injected)")
        #expect((injected["reset"] ?? 0) > 5, "\(injected)")
        // Every SlowDown is one retry; a reset of a reused connection may be retried by libcurl itself first.
        #expect(retries.value >= (injected["slowdown"] ?? 0), "every SlowDown was retried as unavailable: \(retries.value), \(injected)")
        #expect(retries.value < 1000, "only unavailable errors were retried")
    }

    @Test("without retries a fault surfaces as unavailable (transient), a reset too")
    func faultIsUnavailable() async throws {
        let server = try S3TestServer()
        defer { server.stop() }
        let store = try S3Store(try S3Location(parsing: server.location(prefix: "f")), options: StoreKind.s3Options)
        try server.setFaults(failEvery: 1)
        let slow = try await expectStoreError(.unavailable) { try await store.get("config") }
        #expect(slow.description.contains("SlowDown"), "\(slow)")
        #expect(RetryPolicy.isTransient(slow))
        try server.setFaults(resetEvery: 1)
        let reset = try await expectStoreError(.unavailable) { try await store.get("config") }
        #expect(RetryPolicy.isTransient(reset), "\(reset)")
    }
}

private func sha256(_ bytes: [UInt8]) -> [UInt8] { SHA256.hash(bytes) }

/// A thread-safe counter for callbacks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.lock(); count += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

@Suite("S3 store: virtual-host addressing")
struct S3VirtualHostTests {
    @Test("with an endpoint, s3://BUCKET/PREFIX is addressed as BUCKET.host (curl resolves *.localhost to loopback)")
    func virtualHost() async throws {
        let server = try S3TestServer.shared
        var s3 = StoreKind.s3Options
        s3.endpoint = "http://localhost:\(server.port)"
        let prefix = S3TestServer.uniquePrefix("vh")
        let store = try StoreFactory.open("s3://\(S3TestServer.bucket)/\(prefix)", options: StoreOptions(s3: s3))
        #expect(store.location == "s3:http://localhost:\(server.port)/\(S3TestServer.bucket)/\(prefix)")
        try await store.put("data/00/x", data: [1, 2, 3])
        #expect(try await store.get("data/00/x") == [1, 2, 3])
        #expect(try await store.list(prefix: "").map(\.key) == ["data/00/x"])
        // The same object, seen path-style.
        let pathStyle = try S3Store(try S3Location(parsing: server.location(prefix: prefix)), options: StoreKind.s3Options)
        #expect(try await pathStyle.get("data/00/x") == [1, 2, 3])
        // Without an endpoint, s3://HOST/BUCKET is restic's form: the first component is the host.
        #expect(try StoreFactory.open("s3://\(S3TestServer.bucket)/\(prefix)", options: StoreOptions(s3: StoreKind.s3Options)).location
                == "s3:https://\(S3TestServer.bucket)/\(prefix)")
        #expect(throws: StoreLocationError.self) {
            var bad = StoreKind.s3Options
            bad.endpoint = "https://host/path"
            _ = try StoreFactory.open("s3://bucket/p", options: StoreOptions(s3: bad))
        }
    }
}
