import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The one way from a location to a store and the one password rule, seen from the command line.
@Suite("repository location and password rule (CLI)")
struct StoreLocationAndPasswordTests {
    @Test("S3 locations without credentials, and other URLs, are refused clearly before any password is asked",
          arguments: ["s3:https://minio.local:9000/bucket/kura", "s3://s3.amazonaws.com/bucket", "sftp://host/repo"])
    func remoteRefused(location: String) async throws {
        try await withSandbox { s in
            // No credentials anywhere: none in the environment, no ~/.aws/credentials in the sandbox's HOME.
            let noCredentials = ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "AWS_SHARED_CREDENTIALS_FILE": ""]
            for arguments in [["init"], ["snapshots"]] {
                let r = try await s.kura(arguments, repo: .path(location), password: .none, extra: noCredentials)
                #expect(r.status != 0, "\(r)")
                #expect(r.err.contains(location.hasPrefix("s3") ? "no S3 credentials" : "no store for"), "\(r)")
                #expect(!r.err.contains("password"), "the location is checked first: \(r)")
            }
        }
    }

    @Test("a malformed S3 location says what is wrong (exit 1)")
    func malformed() async throws {
        try await withSandbox { s in
            let r = try await s.kura(["snapshots"], repo: .path("s3:https://host:99999/bucket"), password: .environment)
            #expect(r.status == 1, "\(r)")
            #expect(r.err.contains("port"), "\(r)")
        }
    }

    @Test("KURA_PASSWORD_FILE wins over KURA_PASSWORD; a group-readable password file is refused with chmod 600")
    func passwordRule() async throws {
        try await withSandbox { s in
            _ = try await s.kuraOK(["init", "-q"])
            let file = try s.passwordFile(name: "pw")
            let fileWins = try await s.kura(["snapshots"], password: .value("wrong"), extra: ["KURA_PASSWORD_FILE": file])
            #expect(fileWins.status == 0, "\(fileWins)")

            chmod(file, 0o640)
            for run in [try await s.kura(["snapshots", "--password-file", file], password: .environment),
                        try await s.kura(["snapshots"], password: .environment, extra: ["KURA_PASSWORD_FILE": file])] {
                #expect(run.status == 1, "\(run)")
                #expect(run.err.contains("is readable by its group (mode 640)"), "\(run)")
                #expect(run.err.contains("chmod 600 \(file)"), "\(run)")
                #expect(!run.err.contains(s.password), "the password is never printed")
            }
        }
    }

    @Test("init --copy-chunker-params-from a missing repository is 'no repository' (exit 10)")
    func copyFromMissing() async throws {
        try await withSandbox { s in
            let r = try await s.kura(["init", "--copy-chunker-params-from", s.path("nothing-here")])
            #expect(r.status == 10, "\(r)")
            #expect(r.err.contains("there is no repository at \(s.path("nothing-here")) to copy chunker parameters from"), "\(r)")
        }
    }
}
