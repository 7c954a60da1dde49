import Foundation
import KuraRepository
import Testing

/// The one password rule: --password-file > configuration > $KURA_PASSWORD_FILE > $KURA_PASSWORD > prompt.
@Suite("PasswordSource")
struct PasswordSourceTests {
    /// A folder with secret files named after their contents.
    final class Files {
        let root = FileManager.default.temporaryDirectory.path + "/kura-pw-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: root) }
        func file(_ name: String, _ contents: String, mode: mode_t = 0o600) throws -> String {
            let path = root + "/" + name
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, mode)
            return path
        }
    }

    static func string(_ source: PasswordSource) throws -> String { String(decoding: try source.password(), as: UTF8.self) }

    @Test("the key cache is allowed for a password from a file or the environment, not for a typed one or with KURA_KEY_CACHE=0")
    func keyCachePolicy() throws {
        let prompt: @Sendable () throws -> [UInt8] = { Array("typed".utf8) }
        #expect(PasswordSource(passwordFile: "/etc/kura/password", environment: [:]).allowsKeyCache)
        #expect(PasswordSource(environment: ["KURA_PASSWORD": "x"]).allowsKeyCache)
        #expect(!PasswordSource(environment: [:], prompt: prompt).allowsKeyCache)
        #expect(!PasswordSource(environment: [:]).allowsKeyCache)
        #expect(!PasswordSource(passwordFile: "/etc/kura/password", environment: ["KURA_KEY_CACHE": "0"]).allowsKeyCache)
    }

    @Test("each source wins over every later one")
    func precedence() throws {
        let f = try Files()
        let flag = try f.file("flag", "from-flag\n")
        let configFile = try f.file("config", "from-config-file\n")
        let envFile = try f.file("env", "from-env-file\n")
        let env = ["KURA_PASSWORD_FILE": envFile, "KURA_PASSWORD": "from-env"]
        let prompt: @Sendable () throws -> [UInt8] = { Array("from-prompt".utf8) }

        #expect(try Self.string(PasswordSource(passwordFile: flag, configured: .file(configFile), environment: env, prompt: prompt)) == "from-flag")
        #expect(try Self.string(PasswordSource(configured: .file(configFile), environment: env, prompt: prompt)) == "from-config-file")
        #expect(try Self.string(PasswordSource(configured: .inline("inline"), environment: env, prompt: prompt)) == "inline")
        #expect(try Self.string(PasswordSource(environment: env, prompt: prompt)) == "from-env-file")
        #expect(try Self.string(PasswordSource(environment: ["KURA_PASSWORD": "from-env"], prompt: prompt)) == "from-env")
        #expect(try Self.string(PasswordSource(environment: ["KURA_PASSWORD_FILE": "", "KURA_PASSWORD": ""], prompt: prompt)) == "from-prompt",
                "empty variables count as unset")
        #expect(PasswordSource(passwordFile: flag, environment: env).origin == .passwordFileOption(flag))
        #expect(PasswordSource(configured: .inline("x"), environment: env).origin == .configurationInline)
        #expect(PasswordSource(environment: [:]).origin == nil)
    }

    @Test("no source: the message says what to set, for the command line and for a configuration")
    func none() throws {
        let cli = try #require(throws: KuraError.self) { try PasswordSource(environment: [:]).password() }
        #expect(cli.message == "no password given")
        #expect(cli.hint?.contains("--password-file") == true)
        let config = try #require(throws: KuraError.self) { try PasswordSource(usesConfiguration: true, environment: [:]).password() }
        #expect(config.message == "the configuration gives no repository password")
        #expect(config.hint?.contains("password-file") == true)
    }

    @Test("a file gives its first line; CRLF, empty and missing files")
    func files() throws {
        let f = try Files()
        #expect(try Self.string(PasswordSource(passwordFile: try f.file("crlf", "pw\r\nsecond\n"), environment: [:])) == "pw")
        #expect(try Self.string(PasswordSource(passwordFile: try f.file("bare", "no newline"), environment: [:])) == "no newline")
        let empty = try #require(throws: KuraError.self) { try PasswordSource(passwordFile: try f.file("empty", "\n"), environment: [:]).password() }
        #expect(empty.message.contains("is empty"))
        let missing = try #require(throws: KuraError.self) {
            try PasswordSource(passwordFile: f.root + "/nope", environment: ["KURA_PASSWORD": "fallback"]).password()
        }
        #expect(missing.message.contains("cannot read the password file"), "a missing file is an error, not a fallback")
        let prompt = try #require(throws: KuraError.self) { try PasswordSource(environment: [:], prompt: { [] }).password() }
        #expect(prompt.message == "the password is empty")
    }

    @Test("a password file its group or others can read is refused, wherever it is named",
          arguments: [0o640, 0o644, 0o604, 0o660, 0o666] as [mode_t])
    func permissions(mode: mode_t) throws {
        let f = try Files()
        let path = try f.file("pw", "secret\n", mode: mode)
        for source in [PasswordSource(passwordFile: path, environment: [:]),
                       PasswordSource(configured: .file(path), environment: [:]),
                       PasswordSource(environment: ["KURA_PASSWORD_FILE": path])] {
            let e = try #require(throws: KuraError.self) { try source.password() }
            #expect(e.message.contains("is readable by"), "\(e)")
            #expect(e.message.contains("mode \(String(mode, radix: 8))"))
            #expect(e.hint?.contains("chmod 600 \(path)") == true)
        }
        #expect(PasswordSource.permissionProblem(path) != nil, "config check applies the same rule")
        chmod(path, 0o600)
        #expect(PasswordSource.permissionProblem(path) == nil)
        #expect(try Self.string(PasswordSource(passwordFile: path, environment: [:])) == "secret")
        chmod(path, 0o400)
        #expect(try Self.string(PasswordSource(passwordFile: path, environment: [:])) == "secret")
    }
}
