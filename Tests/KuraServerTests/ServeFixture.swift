import Foundation
import KuraChunker
import KuraOperations
import KuraRepository
import KuraServer
import KuraStore
import KuraTestSupport
import Logging

/// A configuration with three sources and a real repository with real backups made by `kura run`'s
/// library (``Runner``) on four different days: `files` (a folder, backed up every day, so its chart has
/// bars), `broken` (a command that fails: its last run failed) and `idle` (scheduled, never ran: late).
final class ServeFixture: Sendable {
    let folder: TemporaryFolder
    let password = "serve-test-password-Hq4"
    var root: String { folder.path }
    var repo: String { root + "/repo" }
    var passwordFile: String { root + "/password" }
    var configPath: String { root + "/kura.toml" }
    var source: String { root + "/src" }
    let config: Configuration
    /// Bytes of `src/data/blob.bin` as of the last backup.
    let blob: [UInt8]
    /// The raw-byte name of a file whose name is not UTF-8 (in `src/data/`).
    static let oddName: [UInt8] = Array("odd-".utf8) + [0xFF, 0xFE] + Array(" & <x>.txt".utf8)

    init() async throws {
        folder = try TemporaryFolder("kura-serve-test")
        let root = folder.path
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: root + "/password"))
        chmod(root + "/password", 0o600)
        try FileManager.default.createDirectory(atPath: root + "/src/data/deeper", withIntermediateDirectories: true)
        try Data("hello from kura serve\n".utf8).write(to: URL(fileURLWithPath: root + "/src/readme.txt"))
        try Data("deep\n".utf8).write(to: URL(fileURLWithPath: root + "/src/data/deeper/note.txt"))
        try RawFS.write(Array((root + "/src/data/").utf8) + ServeFixture.oddName, Array("odd name, odd bytes\n".utf8))
        let text = """
        repository = "\(root)/repo"
        password-file = "\(root)/password"
        state-dir = "\(root)/state"
        timezone = "UTC"

        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(root)/src"]
        schedule = "0 3 * * *"
        check = { verify-restore = "always" }
        offsite = "\(root)/offsite"

        [[source]]
        name = "broken"
        type = "command"
        command = "echo partial; exit 3"
        schedule = "0 4 * * *"

        [[source]]
        name = "idle"
        type = "directory"
        paths = ["\(root)/src/data"]
        schedule = "0 5 * * *"

        """
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/kura.toml"))
        chmod(root + "/kura.toml", 0o600)
        config = try ConfigurationParser.load(path: root + "/kura.toml")

        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        options.chunker = ChunkerParameters(minSize: 4 << 10, averageSize: 16 << 10, maxSize: 64 << 10)
        options.packSize = 1 << 20
        let repository = try await Repository.initialize(store: try StoreFactory.open(root + "/repo", create: true), password: Array(password.utf8), options: options)
        // The offsite target: a second local repository with the same chunker (so copies dedup).
        options.chunkerKey = repository.chunkerSecret
        _ = try await Repository.initialize(store: try StoreFactory.open(root + "/offsite", create: true), password: Array(password.utf8), options: options)

        // Four days of backups of `files`, new data each day; the failing source on the last day.
        var blob: [UInt8] = []
        let now = Date()
        for day in (0..<4).reversed() {
            blob += randomBytes((96 << 10) * (4 - day), seed: UInt64(day + 1))
            try Data(blob).write(to: URL(fileURLWithPath: root + "/src/data/blob.bin"))
            let outcome = try await ServeFixture.runner(config, clock: now.addingTimeInterval(-Double(day) * 86_400))
                .run(RunRequest(sources: day == 0 ? ["files", "broken"] : ["files"]))
            guard outcome.results.first?.report.success == true else { throw FixtureError(description: "backup failed: \(outcome.results)") }
        }
        self.blob = blob
    }

    static func environment(clock: Date? = nil) -> OperationsEnvironment {
        var e = OperationsEnvironment()
        e.variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
        e.cacheDirectory = nil
        if let clock { e.clock = .fixed(clock) }
        return e
    }

    static func runner(_ config: Configuration, clock: Date? = nil) -> Runner {
        Runner(config: config, environment: environment(clock: clock), logger: Logger(label: "kura.run.test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// A dashboard over this fixture's configuration (opening the repository as `kura serve` does).
    func server(token: String? = nil) throws -> DashboardServer {
        var options = DashboardOptions()
        options.token = token.map { Array($0.utf8) }
        return DashboardServer(data: DashboardData(runner: ServeFixture.runner(config), refreshSeconds: 0), options: try options.validated())
    }

    /// The environment for the kura binary: no KURA_* of ours, HOME in the fixture.
    var processEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
        env["HOME"] = root
        return env
    }
}

struct FixtureError: Error, CustomStringConvertible { var description: String }

/// Where tests leave files for a human to look at (the dashboard screenshot): `.build/test-output/`.
enum TestOutput {
    static var folder: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent(".build/test-output").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
    /// This test folder (for the helper scripts next to the tests).
    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(name).path
    }
}
