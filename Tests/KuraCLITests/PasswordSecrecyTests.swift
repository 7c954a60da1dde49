import Foundation
import KuraTestSupport
import Testing

@Suite("the password stays secret")
struct PasswordSecrecyTests {
    /// Every file below `root`, with its bytes.
    private func files(below root: String) throws -> [(String, Data)] {
        try FileManager.default.subpathsOfDirectory(atPath: root).compactMap { rel in
            var isDir: ObjCBool = false
            let path = root + "/" + rel
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { return nil }
            return (rel, try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }

    @Test func passwordNeverAppearsInOutputOrRepository() async throws {
        try await withSandbox { s in
            let secret = Data(s.password.utf8)
            let wrong = "wrong-\(UUID().uuidString)"
            let src = try makeSampleTree(at: s.path("src"))
            var results: [RunResult] = []
            func run(_ args: [String], _ password: PasswordSource = .environment) async throws {
                results.append(try await s.kura(args, password: password))
            }
            try await run(["init"])
            try await run(["init", "--json"])                      // fails: exists
            try await run(["backup", src])
            try await run(["backup", "--json", src], .file)
            try await run(["backup", "--stdin-filename", "x", "--stdin-from-command", "--", "/bin/echo", "streamed"])
            try await run(["snapshots"])
            try await run(["snapshots", "--json"])
            try await run(["ls", "-l", "latest"])
            try await run(["ls", "--json", "latest"])
            try await run(["stats"])
            try await run(["stats", "--json"])
            try await run(["diff", "latest", "latest", "--json"])
            try await run(["cat", "latest:/x"])
            try await run(["restore", "latest", "--target", s.path("r")])
            try await run(["snapshots"], .value(wrong))
            try await run(["snapshots", "--json"], .value(wrong))
            try await run(["cat", "latest:/nope"])
            #expect(results.map(\.status) == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 12, 1], "\(results.map(\.status))")
            for r in results {
                #expect(r.stdout.range(of: secret) == nil && r.stderr.range(of: secret) == nil, "password printed by \(r)")
                #expect(!r.all.contains(wrong), "wrong password printed by \(r)")
            }

            // No repository file holds the password, as UTF-8 or UTF-16, nor the wrong one.
            let stored = try files(below: s.repo)
            #expect(stored.count >= 6, "\(stored.map(\.0))")
            let utf16 = s.password.data(using: .utf16LittleEndian)!
            for (name, bytes) in stored {
                #expect(bytes.range(of: secret) == nil, "\(name) contains the password")
                #expect(bytes.range(of: utf16) == nil, "\(name) contains the password as UTF-16")
                #expect(bytes.range(of: Data(wrong.utf8)) == nil, "\(name) contains the wrong password")
            }
            // Nor does anything restored (the snapshot records no environment).
            for (name, bytes) in try files(below: s.path("r")) {
                #expect(bytes.range(of: secret) == nil, "restored \(name) contains the password")
            }
        }
    }

    @Test func keyFileRecordsScryptParametersAndNoPlainMasterKey() async throws {
        try await withRepository { s in
            let keys = try FileManager.default.contentsOfDirectory(atPath: s.repo + "/keys")
            try #require(keys.count == 1)
            let key = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.repo + "/keys/" + keys[0]))) as? [String: Any])
            #expect(key["kdf"] as? String == "scrypt")
            #expect((key["n"] as? Int ?? 0) >= 32768 && key["r"] as? Int == 8 && key["p"] as? Int == 1, "\(key)")
            let salt = try #require((key["salt"] as? String).flatMap { Data(base64Encoded: $0) })
            #expect(salt.count == 32)
            let sealed = try #require((key["data"] as? String).flatMap { Data(base64Encoded: $0) })
            #expect(sealed.count > 28, "sealed master key too short")
            #expect(key["encryption"] == nil, "a key file shows the master key in the clear")
            // Two repositories with the same password get different salts and different ids.
            let other = s.path("repo2")
            let r = try await s.kura(["init", "--json"], repo: .path(other))
            #expect(r.status == 0, "\(r)")
            let keys2 = try FileManager.default.contentsOfDirectory(atPath: other + "/keys")
            let key2 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: other + "/keys/" + keys2[0]))) as? [String: Any]
            #expect(key2?["salt"] as? String != key["salt"] as? String)
        }
    }
}
