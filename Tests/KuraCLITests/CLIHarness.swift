import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Helpers for the command-line end-to-end tests: a private sandbox per test that runs the built `kura`
// (and other tools) as child processes, and building and comparing file trees. The binary, the process
// runner, random bytes and raw-byte file calls come from KuraTestSupport.

// MARK: - A private sandbox per test

/// How the child gets its password.
enum PasswordSource {
    /// `KURA_PASSWORD` in the environment (the sandbox's password).
    case environment
    /// `KURA_PASSWORD_FILE` naming a 0600 file with the sandbox's password.
    case file
    /// A specific value in `KURA_PASSWORD`.
    case value(String)
    /// No password at all (and standard input is /dev/null, so there is no prompt either).
    case none
}

/// Which `--repo` to pass.
enum RepositoryArgument {
    /// The sandbox's repository.
    case sandbox
    case path(String)
    /// No `--repo` option.
    case none
}

/// A temporary folder with a repository location, a password and helpers to run kura against them.
/// Every test makes its own, so tests run in parallel safely; `remove()` deletes it.
final class Sandbox: @unchecked Sendable {
    let root: URL
    let repo: String
    /// A password that appears nowhere else, so its bytes can be searched for.
    let password: String
    let scratch: URL
    let home: URL

    init(_ label: String = #function) throws {
        let safe = label.filter { $0.isLetter || $0.isNumber }.prefix(40)
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("kura-cli-\(safe)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        repo = root.appendingPathComponent("repo").path
        password = "pw-\(UUID().uuidString)-Zq7"
        scratch = root.appendingPathComponent(".scratch", isDirectory: true)
        home = root.appendingPathComponent("home", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    func remove() {
        // Restored trees can hold read-only folders; make everything writable first.
        _ = chmodRecursively(root.path)
        try? FileManager.default.removeItem(at: root)
    }

    private func chmodRecursively(_ path: String) -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
        chmod(path, 0o700)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            _ = chmodRecursively(path + "/" + name)
        }
        return true
    }

    /// A path inside the sandbox.
    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The environment for a child: ours without any KURA_* variable, HOME inside the sandbox.
    func environment(_ password: PasswordSource, extra: [String: String] = [:]) throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
        env["HOME"] = home.path
        switch password {
        case .environment: env["KURA_PASSWORD"] = self.password
        case .value(let v): env["KURA_PASSWORD"] = v
        case .file: env["KURA_PASSWORD_FILE"] = try passwordFile()
        case .none: break
        }
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// A 0600 file holding the password (and a newline).
    func passwordFile(contents: String? = nil, name: String = "password") throws -> String {
        let p = path(name)
        try Data((contents ?? password + "\n").utf8).write(to: URL(fileURLWithPath: p))
        chmod(p, 0o600)
        return p
    }

    /// Runs kura with `--repo` pointing at the sandbox's repository (unless `repo` is nil).
    @discardableResult
    func kura(_ arguments: [String], repo: RepositoryArgument = .sandbox, password: PasswordSource = .environment,
              extra: [String: String] = [:], directory: URL? = nil) async throws -> RunResult {
        var args = arguments
        let location: String?
        switch repo {
        case .sandbox: location = self.repo
        case .path(let p): location = p
        case .none: location = nil
        }
        if let location { args += ["--repo", location] }
        // Options after `--` belong to a backed-up command, so --repo goes before it.
        if let dash = arguments.firstIndex(of: "--"), let location {
            args = Array(arguments[..<dash]) + ["--repo", location] + Array(arguments[dash...])
        }
        return try await TestProcess.run(KuraBinary.url, args, environment: try environment(password, extra: extra),
                                          directory: directory, scratch: scratch)
    }

    /// Runs kura and requires exit status 0.
    @discardableResult
    func kuraOK(_ arguments: [String], password: PasswordSource = .environment, extra: [String: String] = [:],
                directory: URL? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> RunResult {
        let r = try await kura(arguments, password: password, extra: extra, directory: directory)
        try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        return r
    }

    /// Runs any program with the sandbox's environment.
    func run(_ program: String, _ arguments: [String], stdin: ChildIO = .null) async throws -> RunResult {
        let exe = program.hasPrefix("/") ? URL(fileURLWithPath: program) : URL(fileURLWithPath: "/usr/bin/env")
        let args = program.hasPrefix("/") ? arguments : [program] + arguments
        return try await TestProcess.run(exe, args, environment: try environment(.none), stdin: stdin, scratch: scratch)
    }

    /// `kura init`, required to succeed.
    func initRepository() async throws {
        try await kuraOK(["init", "-q"])
    }

    /// `kura backup --json PATHS... EXTRA...`, required to succeed; returns the JSON report.
    @discardableResult
    func backup(_ paths: [String], _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let r = try await kuraOK(["backup", "--json"] + paths + extra, sourceLocation: sourceLocation)
        return try r.jsonObject()
    }

    /// `kura snapshots --json`, oldest first.
    func snapshots(_ extra: [String] = []) async throws -> [[String: Any]] {
        try await kuraOK(["snapshots", "--json"] + extra).jsonArray()
    }

    /// `kura cat SNAP:PATH` output, required to succeed.
    func cat(_ target: String) async throws -> Data {
        try await kuraOK(["cat", target]).stdout
    }

    /// Runs `kura ARGS | PROGRAM PROGRAM-ARGS` through a real pipe; returns both results.
    func pipe(kura arguments: [String], into program: String, _ programArguments: [String],
              repo location: String? = nil, extra: [String: String] = [:]) async throws -> (kura: RunResult, consumer: RunResult) {
        let pipe = Pipe()
        let id = UUID().uuidString
        let kuraErr = scratch.appendingPathComponent("kura-err-\(id)")
        let outURL = scratch.appendingPathComponent("out-\(id)"), errURL = scratch.appendingPathComponent("err-\(id)")
        defer { for u in [kuraErr, outURL, errURL] { try? FileManager.default.removeItem(at: u) } }
        // The writer first: Foundation closes the parent's write end after launching it, so the
        // reader sees end-of-file when kura exits.
        let writer = try TestProcess.start(KuraBinary.url, arguments + ["--repo", location ?? repo], environment: try environment(.environment, extra: extra),
                                            stdout: .handle(pipe), stderr: .file(kuraErr))
        try? pipe.fileHandleForWriting.close()
        let reader = try TestProcess.start(URL(fileURLWithPath: "/usr/bin/env"), [program] + programArguments,
                                            environment: try environment(.none), stdin: .handle(pipe),
                                            stdout: .file(outURL), stderr: .file(errURL))
        try? pipe.fileHandleForReading.close()
        let ws = await writer.wait(), rs = await reader.wait()
        return (RunResult(arguments: ["kura"] + arguments, status: ws, stdout: Data(), stderr: (try? Data(contentsOf: kuraErr)) ?? Data()),
                RunResult(arguments: [program] + programArguments, status: rs,
                          stdout: (try? Data(contentsOf: outURL)) ?? Data(), stderr: (try? Data(contentsOf: errURL)) ?? Data()))
    }
}

/// Runs `body` with a new sandbox and removes the sandbox afterwards, whatever happens.
func withSandbox<T>(_ label: String = #function, _ body: (Sandbox) async throws -> T) async throws -> T {
    let sandbox = try Sandbox(label)
    defer { sandbox.remove() }
    return try await body(sandbox)
}

/// A sandbox with an initialized repository.
func withRepository<T>(_ label: String = #function, _ body: (Sandbox) async throws -> T) async throws -> T {
    try await withSandbox(label) { s in
        try await s.initRepository()
        return try await body(s)
    }
}

// MARK: - Making trees

/// One entry of a scanned tree, with what a restore must reproduce.
struct TreeEntry: Equatable, CustomStringConvertible {
    enum Kind: String { case file, directory, symlink, fifo, other }
    var kind: Kind
    /// Permission bits (07777).
    var mode: UInt32
    /// File contents (empty for other kinds).
    var contents: [UInt8] = []
    var linkTarget: [UInt8] = []
    /// Modification time of files, seconds and nanoseconds (0 for other kinds: folder times change
    /// as entries are created, symlink times are not portable).
    var mtime: Int = 0
    var mtimeNanoseconds: Int = 0

    var description: String {
        "\(kind) mode \(String(mode, radix: 8)) \(kind == .file ? "\(contents.count) bytes mtime \(mtime).\(mtimeNanoseconds)" : "")\(kind == .symlink ? "-> \(String(decoding: linkTarget, as: UTF8.self))" : "")"
    }
}

/// A scanned tree: relative path bytes (no leading "/") → entry. The root itself is not included.
typealias TreeScan = [[UInt8]: TreeEntry]

/// Reads every entry below `root` with lstat (links are not followed).
func scanTree(_ root: String) throws -> TreeScan {
    var out: TreeScan = [:]
    func walk(_ dir: [UInt8], _ relative: [UInt8]) throws {
        for name in RawFS.names(in: dir) {
            let full = dir + [47] + name
            let rel = relative.isEmpty ? name : relative + [47] + name
            guard let st = RawFS.lstatPath(full) else { continue }
            let mode = UInt32(st.st_mode) & 0o7777
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                out[rel] = TreeEntry(kind: .file, mode: mode, contents: try RawFS.read(full),
                                     mtime: Int(st.st_mtim.tv_sec), mtimeNanoseconds: Int(st.st_mtim.tv_nsec))
            case S_IFDIR:
                out[rel] = TreeEntry(kind: .directory, mode: mode)
                try walk(full, rel)
            case S_IFLNK:
                out[rel] = TreeEntry(kind: .symlink, mode: 0, linkTarget: RawFS.readlinkPath(full))
            case S_IFIFO:
                out[rel] = TreeEntry(kind: .fifo, mode: mode)
            default:
                out[rel] = TreeEntry(kind: .other, mode: mode)
            }
        }
    }
    try walk(Array(root.utf8), [])
    return out
}

/// Human-readable differences between two scans (empty when equal).
func treeDifferences(expected: TreeScan, actual: TreeScan, compareTimes: Bool = true) -> [String] {
    var problems: [String] = []
    func show(_ p: [UInt8]) -> String { String(decoding: p, as: UTF8.self) }
    for (path, e) in expected.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
        guard var a = actual[path] else { problems.append("missing: \(show(path))"); continue }
        var e = e
        if !compareTimes { a.mtime = 0; a.mtimeNanoseconds = 0; e.mtime = 0; e.mtimeNanoseconds = 0 }
        if a != e { problems.append("differs: \(show(path)): expected \(e), got \(a)") }
    }
    for path in actual.keys where expected[path] == nil { problems.append("unexpected: \(show(path))") }
    return problems
}

/// A sample tree covering the cases a backup tool must get right. Returns its absolute path.
/// - `docs/readme.txt`, `docs/notes.txt` text; `docs/empty.txt` empty (mode 0600)
/// - `data/big.bin` 2.5 MB of incompressible bytes (several chunks with the default 512 KiB minimum)
/// - `data/nested/deeper/leaf.txt`, `empty-folder/`, `script.sh` (mode 0755)
/// - `link-to-readme` → `docs/readme.txt`, `hard-a` and `hard-b` hard-linked
/// - `名前 with spaces.txt` (UTF-8, spaces), `caf\xE9.txt` (not UTF-8)
/// - an old mtime with nanoseconds on `docs/notes.txt`
@discardableResult
func makeSampleTree(at path: String, seed: UInt64 = 1) throws -> String {
    let fm = FileManager.default
    for dir in ["", "docs", "data/nested/deeper", "empty-folder"] {
        try fm.createDirectory(atPath: path + "/" + dir, withIntermediateDirectories: true)
    }
    func put(_ rel: String, _ text: String, mode: mode_t = 0o644) throws {
        try RawFS.write(Array((path + "/" + rel).utf8), Array(text.utf8), mode: mode)
    }
    try put("docs/readme.txt", "kura sample tree\nline two\n")
    try put("docs/notes.txt", String(repeating: "notes that compress well. ", count: 400))
    try put("docs/empty.txt", "", mode: 0o600)
    try RawFS.write(Array((path + "/data/big.bin").utf8), randomBytes(2_500_000, seed: seed))
    try put("data/nested/deeper/leaf.txt", "leaf \(seed)\n")
    try put("script.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
    try put("名前 with spaces.txt", "unicode name\n")
    try RawFS.write(Array(path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".txt".utf8), Array("latin-1 name\n".utf8))
    try put("hard-a", "hard linked\n")
    guard link(path + "/hard-a", path + "/hard-b") == 0 else { throw POSIXError(.EIO) }
    try fm.createSymbolicLink(atPath: path + "/link-to-readme", withDestinationPath: "docs/readme.txt")
    var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789)]
    _ = utimensat(AT_FDCWD, path + "/docs/notes.txt", &times, 0)
    return path
}

/// Writes a UTF-8 text file (creating folders).
func writeText(_ path: String, _ text: String) throws { try writeBytes(path, Array(text.utf8)) }

/// Writes a file (creating folders).
func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The id prefixes of all snapshots, oldest first.
func snapshotIDs(_ list: [[String: Any]]) -> [String] { list.compactMap { $0["id"] as? String } }

/// A hex prefix guaranteed not to start any of `ids`.
func unusedPrefix(_ ids: [String]) -> String {
    for n in 0..<65536 {
        let candidate = String(format: "%04x", n)
        if !ids.contains(where: { $0.hasPrefix(candidate) }) { return candidate + "0000" }
    }
    return "00000000"
}

/// Parses `kura diff` text output into (kind, path) pairs, ignoring the summary line.
func parseDiff(_ text: String) -> [(kind: String, path: String)] {
    text.split(separator: "\n").compactMap { line in
        guard let r = line.range(of: "  ") else { return nil }
        let kind = String(line[..<r.lowerBound])
        guard ["+", "-", "M", "U", "T"].contains(kind) else { return nil }
        return (kind, String(line[r.upperBound...]))
    }
}

/// Diff entries that are not metadata changes of folders above `root` (those change whenever
/// anything, e.g. a parallel test, creates an entry in /tmp).
func changes(_ entries: [(kind: String, path: String)], under root: String) -> [(kind: String, path: String)] {
    entries.filter { e in !(e.kind == "U" && (root.hasPrefix(e.path + "/") || e.path == "/")) }
}
