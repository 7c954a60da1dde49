import Foundation
import KuraOperations
import KuraRepository
import KuraStore
import KuraTestSupport
import Testing

/// kura.toml's S3 keys (`s3-endpoint`, `s3-region`, `s3-profile`, `s3-credentials-file`) and an
/// `[[offsite]]` target's Object Lock `retention`, against the loopback S3 server with a bucket that has
/// Object Lock enabled (a PUT there must carry a matching Content-MD5, as on AWS).
@Suite struct S3SettingsTests {
    /// The team's nightly set-up: `kura run` copies into a bucket with Object Lock, with the backup
    /// host's key (may not delete but lock objects; moto enforces the policy) from a credentials file
    /// that kura.toml names.
    @Test func nightlyCopyWithConfiguredCredentialsLocksEveryUploadedObject() async throws {
        let server = try S3TestServer(iam: true, objectLock: true)
        defer { server.stop() }
        let s = try OpsSandbox()
        try await s.initRepository()
        let prefix = "nightly/kura"
        let location = server.location(prefix: prefix)
        try await OffsiteRunTests().initTarget(location, password: s.password, environment: S3TestServer.environment, source: s)
        // The backup host's key in a credentials file named by kura.toml (0600), under a profile of its
        // own; the environment's keys are wrong and must not be used.
        let key = try server.createUser("backup-host", policy: """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)"},
              {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)/\(prefix)/*"},
              {"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": "arn:aws:s3:::\(S3TestServer.bucket)/\(prefix)/locks/*"}
            ]}
            """)
        let credentials = s.path("s3-credentials")
        try Data("[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n[offsite]\naws_access_key_id = \(key["AWS_ACCESS_KEY_ID"]!)\naws_secret_access_key = \(key["AWS_SECRET_ACCESS_KEY"]!)\n".utf8)
            .write(to: URL(fileURLWithPath: credentials))
        chmod(credentials, 0o600)
        let config = try s.writeConfig(s.header + """
            s3-region = "us-east-1"
            s3-profile = "offsite"
            s3-credentials-file = "\(credentials)"

            [[offsite]]
            name = "s3"
            repository = "\(location)"
            retention = "1d"
            retention-mode = "compliance"

            [[source]]
            name = "files"
            type = "directory"
            paths = ["\(s.path("src"))"]
            offsite = "s3"
            """)
        #expect(config.s3.profile == "offsite" && config.s3.region == "us-east-1")
        #expect(config.offsite.first?.objectLock == S3ObjectLock(mode: .compliance, retentionSeconds: 86400, exemptPrefixes: ["locks/"]))
        var env = s.environment
        env.variables["AWS_ACCESS_KEY_ID"] = "AKIAWRONG"
        env.variables["AWS_SECRET_ACCESS_KEY"] = "wrong"
        let runner = Runner(config: config, environment: env, logger: quietLogger)
        try s.write("src/a.txt", String(repeating: "offsite night ", count: 20000))
        let started = Date()
        let outcome = try await runner.run(RunRequest())
        let report = try #require(outcome.results.first?.report)
        #expect(outcome.exitCode == 0 && report.offsite.first?.success == true, "\(report.error ?? "") \(report.offsite)")

        let versions = try server.versions(prefix: prefix + "/")
        let uploaded = versions.filter { v in ["data/", "index/", "snapshots/"].contains { v.key.hasPrefix(prefix + "/" + $0) } }
        #expect(uploaded.count >= 3, "\(versions.map(\.key))")
        let formatter = ISO8601DateFormatter()
        for v in uploaded {
            let until = v.lockUntil.flatMap { formatter.date(from: $0) }
            #expect(v.lockMode == "COMPLIANCE" && until.map { $0.timeIntervalSince(started) > 86400 - 5 } == true, "\(v)")
        }
        #expect(versions.filter { $0.key.hasPrefix(prefix + "/locks/") }.allSatisfy { $0.lockMode == nil })

        // A credentials file others may read is refused, naming the fix; nothing is copied.
        chmod(credentials, 0o644)
        try s.write("src/b.txt", "second night\n")
        let second = try await runner.run(RunRequest())
        let failed = try #require(second.results.first?.report)
        #expect(second.exitCode == 1 && failed.error?.contains("readable by group or others") == true, "\(failed.error ?? "")")
    }

    @Test func configurationErrorsNameTheS3Key() throws {
        let s = try OpsSandbox()
        func problems(_ body: String) -> String {
            do { _ = try s.writeConfig(s.header + body); return "" } catch { return "\(error)" }
        }
        let source = """

            [[source]]
            name = "files"
            type = "directory"
            paths = ["/srv"]
            offsite = "t"
            """
        #expect(problems("s3-endpoint = \"s3.example.com\"\n").contains("s3-endpoint is https://HOST"))
        #expect(problems("s3-credentials-file = \"creds\"\n").contains("must be an absolute path"))
        #expect(problems("[[offsite]]\nname = \"t\"\nrepository = \"/mnt/offsite\"\nretention = \"30d\"\n" + source).contains("not in S3"))
        #expect(problems("[[offsite]]\nname = \"t\"\nrepository = \"s3:https://h/b/p\"\nretention = \"soon\"\n" + source).contains("not a duration"))
        #expect(problems("[[offsite]]\nname = \"t\"\nrepository = \"s3:https://h/b/p\"\nretention = \"30d\"\nretention-mode = \"strict\"\n" + source)
                    .contains("compliance"))
        #expect(problems("[[offsite]]\nname = \"t\"\nrepository = \"s3:https://h/b/p\"\nretention-mode = \"governance\"\n" + source)
                    .contains("needs retention"))
        let valid = problems("s3-endpoint = \"https://s3.example.com\"\ns3-region = \"eu-central-1\"\n[[offsite]]\nname = \"t\"\nrepository = \"s3://bucket/kura\"\nretention = \"30d\"\n" + source)
        #expect(valid.isEmpty, "\(valid)")
    }
}
