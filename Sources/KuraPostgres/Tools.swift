import Foundation
import KuraProcess
import Synchronization
import KuraRepository
import KuraRestorer

/// Finds the PostgreSQL client programs (pg_dump, pg_dumpall, pg_restore, psql, pg_basebackup):
/// in `$KURA_PG_BINDIR` when set, else on PATH (on Debian /usr/bin/pg_dump is pg_wrapper, which
/// runs the newest installed version).
public struct PostgresTools: Sendable {
    /// A folder that holds the programs; nil searches PATH.
    public var directory: String?

    public init(directory: String? = nil) {
        let env = ProcessInfo.processInfo.environment["KURA_PG_BINDIR"]
        self.directory = directory ?? ((env?.isEmpty ?? true) ? nil : env)
    }

    /// The full path of a program, or a clear error naming the package to install.
    public func path(_ name: String) throws -> String {
        if let directory {
            let p = directory + "/" + name
            guard FileManager.default.isExecutableFile(atPath: p) else {
                throw KuraError(.notFound, "\(name) is not in \(directory) (KURA_PG_BINDIR)", hint: "point KURA_PG_BINDIR at PostgreSQL's bin folder, or unset it to search PATH")
            }
            return p
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let p = String(dir) + "/" + name
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        // Debian keeps programs without a pg_wrapper link (pg_verifybackup, pg_ctl) per version.
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { v in Double(v).map { (v, $0) } }.sorted { $0.1 > $1.1 }
        for (v, _) in versions {
            let p = "/usr/lib/postgresql/\(v)/bin/" + name
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw KuraError(.notFound, "\(name) was not found on PATH",
                        hint: "install the PostgreSQL client programs (Debian/Ubuntu: apt-get install postgresql-client), or set KURA_PG_BINDIR to their folder")
    }

    /// A program's version (`NAME --version`), as text ("15.18") and number (150018).
    public func version(_ name: String) async throws -> (text: String, number: Int) {
        let p = try path(name)
        let r = try await ToolRun.run([p, "--version"], environment: [:])
        guard r.status == 0, let n = PostgresVersion.parse(String(r.stdout.split(separator: ")").last ?? "")) ?? PostgresVersion.parse(r.stdout) else {
            throw KuraError(.commandFailed, "cannot tell the version of \(p): `\(name) --version` printed \(r.stdout.isEmpty ? "nothing" : "'\(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))'")\(r.stderr.isEmpty ? "" : " (\(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))")")
        }
        return (PostgresVersion.display(n), n)
    }

    /// Refuses a client program older than the server's major version (pg_dump and pg_basebackup
    /// cannot read newer servers correctly). Returns the program's version.
    @discardableResult
    public func requireCompatible(_ name: String, serverVersion: Int) async throws -> (text: String, number: Int) {
        let v = try await version(name)
        guard PostgresVersion.majorKey(v.number) >= PostgresVersion.majorKey(serverVersion) else {
            throw KuraError(.invalidArgument,
                            "\(name) \(v.text) (\(try path(name))) is older than the server (PostgreSQL \(PostgresVersion.display(serverVersion))): \(name) must be of major version \(PostgresVersion.major(serverVersion)) or newer; nothing was backed up",
                            hint: "install postgresql-client-\(PostgresVersion.major(serverVersion)) (or newer) and put it first on PATH, or set KURA_PG_BINDIR to its bin folder (e.g. /usr/lib/postgresql/\(PostgresVersion.major(serverVersion))/bin)")
        }
        return v
    }
}

extension PostgresTools {
    /// Checks a restored data directory against its backup manifest with `pg_verifybackup
    /// --no-parse-wal`. Its report goes to standard error (control bytes escaped). Returns true when
    /// the files match; throws when pg_verifybackup cannot be found or started.
    public func verifyBackup(dataDirectory: String) async throws -> Bool {
        let tool = try path("pg_verifybackup")
        let command = ChildCommand([tool, "--no-parse-wal", dataDirectory], passStderrThrough: true)
        let (_, result) = try await ProcessRunner.stream(command) { output in
            for try await block in output { FileHandle.standardError.write(Data(OutputEscaping.escape(block).utf8)) }
        }
        return result.status.succeeded
    }
}

/// Runs a short program to completion through ``ProcessRunner`` and collects its output.
enum ToolRun {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ argv: [String], environment extra: [String: String], timeout: Duration? = nil) async throws -> Result {
        let r = try await ProcessRunner.run(ChildCommand(argv, environment: extra, timeout: timeout, stderrTailBytes: 1 << 20))
        return Result(status: r.status.shellCode, stdout: r.stdoutText, stderr: r.stderrText)
    }
}

/// Stops ContentStreamer early once a child has read all it wants.
struct InputClosed: Error {}

/// Bytes written so far, counted from the producer task.
private final class ByteCount: Sendable {
    private let value = Mutex<UInt64>(0)
    func add(_ n: Int) { value.withLock { $0 += UInt64(n) } }
    var total: UInt64 { value.withLock { $0 } }
}

extension ContentStreamer {
    /// Streams a file of a snapshot into a child's standard input (pg_restore, psql) and waits for the
    /// child; its standard output is discarded, its standard error passed through (escaped) and its
    /// tail quoted in the error. Throws unless the child exits 0; a child that stops reading early is
    /// judged by its exit status. Returns the bytes written and the child's outcome.
    func feed(_ node: Node, into argv: [String], environment: [String: String], what: String) async throws -> (bytes: UInt64, result: ChildResult) {
        let (bytes, result, _) = try await feed(node, into: argv, environment: environment, what: what, keepingOutput: false)
        return (bytes, result)
    }

    /// `feed`, also returning the child's standard output when `keepingOutput` (for listings such as
    /// `pg_restore -l`; at most 64 MiB are kept).
    func feed(_ node: Node, into argv: [String], environment: [String: String], what: String,
              keepingOutput: Bool) async throws -> (bytes: UInt64, result: ChildResult, output: [UInt8]) {
        let written = ByteCount()
        let content = node.content
        let streamer = self
        let command = ChildCommand(argv, environment: environment, stderrTailBytes: 16 << 10, passStderrThrough: !keepingOutput)
        let (output, result) = try await ProcessRunner.stream(command, input: .producer { writer in
            do {
                try await streamer.stream(content) { bytes in
                    guard try await writer.write(bytes) else { throw InputClosed() }
                    written.add(bytes.count)
                }
            } catch is InputClosed {
                // The child stopped reading: its exit status decides.
            }
        }) { output in
            var kept: [UInt8] = []
            for try await chunk in output where keepingOutput && kept.count < 64 << 20 { kept += chunk }
            return kept
        }
        try result.requireSuccess(what)
        return (written.total, result, output)
    }
}
