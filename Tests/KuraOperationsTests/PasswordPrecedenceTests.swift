import Foundation
import KuraOperations
import KuraRepository
import Testing

/// `kura run` / `config check` / `status` take the password by the same rule as every command.
@Suite("operations password and repository location")
struct PasswordPrecedenceTests {
    static func config(_ s: OpsSandbox) -> String {
        s.header + """
        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(s.path("src"))"]

        """
    }

    @Test("--password-file > configuration password-file > KURA_PASSWORD_FILE > KURA_PASSWORD")
    func precedence() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try s.writeConfig(Self.config(s))
        let wrong = s.path("wrong")
        try Data("wrong\n".utf8).write(to: URL(fileURLWithPath: wrong))
        chmod(wrong, 0o600)

        var env = OperationsEnvironment()
        env.variables = ["KURA_PASSWORD_FILE": wrong, "KURA_PASSWORD": "wrong"]
        #expect(Resources.passwordSource(config, env).origin == .configurationFile(s.passwordFile))
        _ = try await Resources.openRepository(config, env)   // the configuration's file wins over the environment

        env.passwordFileOverride = wrong
        let e = try await #require(throws: KuraError.self) { try await Resources.openRepository(config, env) }
        #expect(e.code == .wrongPassword, "--password-file wins over the configuration")

        var noConfigPassword = config
        noConfigPassword.passwordFile = nil
        env.passwordFileOverride = nil
        env.variables = ["KURA_PASSWORD_FILE": s.passwordFile, "KURA_PASSWORD": "wrong"]
        _ = try await Resources.openRepository(noConfigPassword, env)
        env.variables = ["KURA_PASSWORD": s.password]
        _ = try await Resources.openRepository(noConfigPassword, env)
        env.variables = [:]
        let none = try await #require(throws: KuraError.self) { try await Resources.openRepository(noConfigPassword, env) }
        #expect(none.message == "the configuration gives no repository password")
    }

    @Test("a group-readable password file: kura run refuses it and config check reports the same rule")
    func permissions() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try s.writeConfig(Self.config(s))
        chmod(s.passwordFile, 0o640)
        var env = OperationsEnvironment()
        env.variables = [:]
        let e = try await #require(throws: KuraError.self) { try await Resources.openRepository(config, env) }
        #expect(e.message.contains("readable by its group"), "\(e)")
        #expect(e.hint?.contains("chmod 600") == true)
        var checker = ConfigChecker(config: config, environment: env)
        checker.testNotifications = false
        let findings = await checker.run()
        #expect(findings.contains { $0.subject == "password-file" && $0.level == .error && $0.message == e.message })
    }

    @Test("a missing repository folder is 'no repository' with the configuration's hint; S3 without credentials says so")
    func location() async throws {
        let s = try OpsSandbox()
        let config = try s.writeConfig(Self.config(s))
        let e = try await #require(throws: KuraError.self) { try await Resources.openRepository(config, OperationsEnvironment()) }
        #expect(e.code == .noRepository)
        #expect(e.message == "there is no kura repository at \(s.repo)")
        #expect(e.hint?.contains("kura init --repo \(s.repo)") == true)
        var env = OperationsEnvironment()
        env.repositoryOverride = "s3:https://minio:9000/bucket"
        env.variables = ["HOME": s.root + "/no-home"]   // no AWS_* variables, no ~/.aws/credentials
        let s3 = try await #require(throws: KuraError.self) { try await Resources.openRepository(config, env) }
        #expect(s3.message.contains("no S3 credentials"), "\(s3)")
        #expect(s3.hint?.contains("AWS_ACCESS_KEY_ID") == true)
        // The configuration may name an S3 repository.
        let parsed = try ConfigurationParser.parse(Self.config(s).replacingOccurrences(of: s.repo, with: "s3://host/bucket"))
        #expect(parsed.repository == "s3://host/bucket")
    }
}
