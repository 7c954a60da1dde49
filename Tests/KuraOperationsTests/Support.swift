import Foundation
import KuraChunker
import Logging
import KuraOperations
import KuraRepository
import KuraStore
import Testing
import KuraTestSupport

/// A temporary folder with a repository (fast keys, small chunks), a password file, a state folder and
/// a sendmail "channel" that appends every message to `mail`.
final class OpsSandbox: @unchecked Sendable {
    let root: String
    let password = "ops-test-password-7Qz"
    var repo: String { root + "/repo" }
    var passwordFile: String { root + "/password" }
    var state: String { root + "/state" }
    var mail: String { root + "/mail.txt" }
    var configPath: String { root + "/kura.toml" }

    init(_ label: String = #function) throws {
        let safe = label.filter { $0.isLetter || $0.isNumber }.prefix(30)
        root = FileManager.default.temporaryDirectory.appendingPathComponent("kura-ops-\(safe)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: passwordFile))
        chmod(passwordFile, 0o600)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ rel: String) -> String { root + "/" + rel }

    /// Creates the repository (cheap scrypt, small chunks and packs).
    func initRepository() async throws {
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        options.chunker = ChunkerParameters(minSize: 4 << 10, averageSize: 16 << 10, maxSize: 64 << 10)
        options.packSize = 1 << 20
        _ = try await Repository.initialize(store: try StoreFactory.open(repo, create: true), password: Array(password.utf8), options: options)
    }

    func openRepository() async throws -> Repository {
        try await Repository.open(store: try StoreFactory.open(repo), password: Array(password.utf8))
    }

    /// The configuration header every test config starts with.
    var header: String {
        """
        repository = "\(repo)"
        password-file = "\(passwordFile)"
        state-dir = "\(state)"
        timezone = "Europe/Berlin"

        """
    }

    var sendmailChannel: String {
        """

        # reports of several sources are sent at the same time: one message at a time into the file
        [[notify]]
        name = "mailbox"
        type = "sendmail"
        command = ["/usr/bin/flock", "\(mail).lock", "/bin/sh", "-c", "cat >> \(mail); echo >> \(mail); echo '=== END ===' >> \(mail)"]
        from = "kura@example.com"
        to = ["ops@example.com", "oncall@example.com"]
        on = "always"

        """
    }

    /// Writes the configuration file (mode 0600) and parses it.
    @discardableResult
    func writeConfig(_ text: String) throws -> Configuration {
        try Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
        chmod(configPath, 0o600)
        return try ConfigurationParser.load(path: configPath)
    }

    func write(_ rel: String, _ text: String) throws {
        let p = path(rel)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
    }

    var environment: OperationsEnvironment {
        var e = OperationsEnvironment()
        e.variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
        e.cacheDirectory = nil
        return e
    }

    var mailText: String { (try? String(contentsOfFile: mail, encoding: .utf8)) ?? "" }

    /// The delivered messages (split at the marker the sendmail command appends), quoted-printable decoded.
    var messages: [String] {
        mailText.components(separatedBy: "=== END ===").map { decodeQuotedPrintable($0).trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Runs the built `kura` binary with this sandbox's environment.
    /// (Async: waiting for kura must not hold one of the two cooperative threads the whole suite shares.)
    func kura(_ arguments: [String], extra: [String: String] = [:]) async throws -> (status: Int32, out: String, err: String) {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
        env["HOME"] = root
        for (k, v) in extra { env[k] = v }
        let r = try await TestProcess.run(KuraBinary.url, arguments, environment: env, scratch: URL(fileURLWithPath: root))
        return (r.status, r.out, r.err)
    }
}

/// A UTC date from components.
func utc(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0) -> Date {
    var c = Calendar(identifier: .gregorian)
    c.timeZone = TimeZone(identifier: "UTC")!
    return c.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: s))!
}

/// A local (zone) date from components.
func local(_ zone: String, _ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0) -> Date {
    var c = Calendar(identifier: .gregorian)
    c.timeZone = TimeZone(identifier: zone)!
    return c.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi))!
}

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var time: Date
    init(_ t: Date) { time = t }
    var now: Date { lock.lock(); defer { lock.unlock() }; return time }
    func set(_ t: Date) { lock.lock(); time = t; lock.unlock() }
    var clock: RunClock { RunClock { [self] in self.now } }
}

/// A logger that prints nothing (the runner logs a lot).
let quietLogger = Logger(label: "kura.test") { _ in SwiftLogNoOpLogHandler() }

/// Undoes quoted-printable (soft line breaks and =XX escapes) so that tests can search message text.
func decodeQuotedPrintable(_ text: String) -> String {
    let joined = text.replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=\n", with: "")
    var bytes: [UInt8] = []
    let u = Array(joined.utf8)
    var i = 0
    while i < u.count {
        if u[i] == 61, i + 2 < u.count, let v = UInt8(String(decoding: u[i + 1...i + 2], as: UTF8.self), radix: 16) { bytes.append(v); i += 3 } else { bytes.append(u[i]); i += 1 }
    }
    return String(decoding: bytes, as: UTF8.self)
}
