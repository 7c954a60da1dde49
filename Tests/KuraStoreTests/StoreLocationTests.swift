import Foundation
import KuraCore
import KuraStore
import KuraStoreTesting
import Testing
import KuraTestSupport

@Suite("StoreLocation and StoreFactory")
struct StoreLocationTests {
    @Test("local paths, absolute and relative, are used as given",
          arguments: ["/backup/kura", "relative/repo", "./repo", "../up", "~/repo", "/with space/x", "a:b", "/x/s3:y", "s3", "S3/x"])
    func localPaths(text: String) throws {
        #expect(try StoreLocation(parsing: text) == .local(path: text))
        #expect(try StoreLocation(parsing: text).description == text)
    }

    @Test("every s3 form parses into endpoint, bucket and prefix", arguments: [
        ("s3:https://s3.amazonaws.com/bucket", S3Location(scheme: .https, host: "s3.amazonaws.com", bucket: "bucket")),
        ("s3:https://minio.local:9000/kura-backups/host1/repo",
         S3Location(scheme: .https, host: "minio.local", port: 9000, bucket: "kura-backups", prefix: "host1/repo")),
        ("s3:http://127.0.0.1:9000/bkt/", S3Location(scheme: .http, host: "127.0.0.1", port: 9000, bucket: "bkt")),
        ("s3:http://[::1]:9000/bkt/p", S3Location(scheme: .http, host: "::1", port: 9000, bucket: "bkt", prefix: "p")),
        ("s3://s3.eu-central-1.amazonaws.com/my.bucket/a/b/",
         S3Location(scheme: .https, host: "s3.eu-central-1.amazonaws.com", bucket: "my.bucket", prefix: "a/b")),
        ("s3:s3.amazonaws.com/bucket-1/x_y", S3Location(scheme: .https, host: "s3.amazonaws.com", bucket: "bucket-1", prefix: "x_y")),
    ])
    func s3Forms(text: String, expected: S3Location) throws {
        let parsed = try StoreLocation(parsing: text)
        #expect(parsed == .s3(expected))
        // The description parses back to the same location.
        #expect(try StoreLocation(parsing: parsed.description) == parsed)
    }

    @Test("malformed locations are refused with the reason", arguments: [
        ("", "empty"),
        ("s3:https://host", "names no bucket"),
        ("s3:https://host/", "names no bucket"),
        ("s3:https:///bucket", "no endpoint host"),
        ("s3://:9000/bucket", "no endpoint host"),
        ("s3:https://host:0/bucket", "port"),
        ("s3:https://host:70000/bucket", "port"),
        ("s3:https://host:abc/bucket", "port"),
        ("s3:https://key:secret@host/bucket", "credentials"),
        ("s3:https://host/bucket?region=x", "query"),
        ("s3:https://host/Bucket", "bucket name"),
        ("s3:https://host/b", "bucket name"),
        ("s3:https://host/bucket_underscore", "bucket name"),
        ("s3:https://host/-bucket", "bucket name"),
        ("s3:https://host/bucket/a//b", "//"),
        ("s3:https://host/bucket/.hidden", "not allowed"),
        ("s3:https://host/bucket/a b", "not allowed"),
        ("s3:https://ho st/bucket", "host name"),
        ("s3:https://[::1/bucket", "IPv6"),
        ("s3:ftp://host/bucket", "https or http"),
        ("sftp://host/repo", "no store for \"sftp://\""),
        ("rest:http://host/", "no store for \"rest:http://\""),
        ("b2://bucket", "no store"),
    ])
    func malformed(text: String, reason: String) {
        do {
            let parsed = try StoreLocation(parsing: text)
            Issue.record("parsed \(text) as \(parsed)")
        } catch {
            #expect(error.message.contains(reason) || error.description.contains(reason), "\(error)")
            #expect(!error.isUnsupported)
            let kura = error.kuraError
            #expect(kura.code == .invalidArgument)
            #expect(kura.hint != nil)
        }
    }

    @Test("the factory opens S3 locations without a request; without credentials it says which to set",
          arguments: ["s3:https://minio:9000/bucket/p", "s3://s3.amazonaws.com/bucket", "s3:http://h/bucket"])
    func s3WithoutCredentials(text: String) throws {
        let options = StoreOptions(s3: S3Options(environment: ["HOME": "/nonexistent"]))
        do {
            _ = try StoreFactory.open(text, create: true, options: options)
            Issue.record("opened \(text) without credentials")
        } catch let error as S3CredentialsError {
            let kura = KuraError.from(error)
            #expect(kura.code == .permissionDenied)
            #expect(kura.description.contains("no S3 credentials"))
            #expect(kura.hint?.contains("AWS_ACCESS_KEY_ID") == true)
        }
        let store = try StoreFactory.open(text, options: StoreOptions(s3: S3Options(environment: ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"])))
        #expect(store.location == (try StoreLocation(parsing: text)).description)
    }

    @Test("a missing folder is 'no repository' (exit 10); create makes it; a file is no repository either")
    func factoryLocal() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        let missing = scratch.path + "/nope"
        do {
            _ = try StoreFactory.open(missing)
            Issue.record("opened a missing folder")
        } catch let error as KuraError {
            #expect(error.code == .noRepository)
            #expect(error.exitCode == 10)
            #expect(error.message == "there is no kura repository at \(missing)")
            #expect(error.hint?.contains("kura init") == true)
            #expect(error.hint?.contains("KURA_REPOSITORY") == true)
        }
        #expect(!FileManager.default.fileExists(atPath: missing), "opening must not create")
        _ = FileManager.default.createFile(atPath: scratch.path + "/file", contents: Data())
        #expect(throws: KuraError.self) { try StoreFactory.open(scratch.path + "/file") }

        let store = try StoreFactory.open(missing, create: true)
        #expect(store.location == missing)
        #expect(store is RetryingStore, "every opened store retries")
        #expect((store as? RetryingStore)?.base is LimitedStore, "inside the retries, the request limit")
        #expect(store.maxConcurrentRequests == 8, "a local store's limit")
        try await store.put("config", data: [1])
        #expect(try await StoreFactory.open(missing).get("config") == [1])
        #expect(try StoreFactory.open(missing, options: StoreOptions(maxConcurrentRequests: 2)).maxConcurrentRequests == 2)
    }

    @Test("a relative path is opened relative to the working directory")
    func relative() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        try await StoreFactory.open(scratch.path + "/rel", create: true).put("k", data: [7])
        // Relative to "/" (tests run in parallel: never change the working directory).
        let relative = String(scratch.path.dropFirst())
        let cwd = FileManager.default.currentDirectoryPath
        let path = cwd == "/" ? relative + "/rel" : String(repeating: "../", count: cwd.split(separator: "/").count) + relative + "/rel"
        #expect(try await StoreFactory.open(path).get("k") == [7])
    }
}
