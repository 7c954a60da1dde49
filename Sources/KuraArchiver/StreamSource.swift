import Foundation
import KuraProcess
import KuraFileSystem
import KuraRepository

/// One file of a stream snapshot: its path inside the snapshot and where its bytes come from.
public struct StreamEntry: Sendable {
    public enum Content: Sendable {
        /// The standard output of a command (argv; environment additions; the command runs with kura's
        /// environment minus its secrets). Non-zero exit or death by signal fails the backup.
        case command([String], environment: [String: String] = [:])
        /// Bytes held in memory (a small manifest, a globals dump already read).
        case bytes([UInt8])
        /// Bytes made when the entry's turn comes, from the outcomes of the entries before it (a
        /// manifest that records the sizes and timings of the streams it describes).
        case deferred(@Sendable (_ earlier: [StreamOutcome]) async throws -> [UInt8])
    }
    /// Path components below "/", e.g. ["postgres", "app.dump"].
    public var path: [String]
    public var content: Content
    public var mode: UInt32 = 0o600
    public init(path: [String], content: Content, mode: UInt32 = 0o600) { self.path = path; self.content = content; self.mode = mode }
}

/// The outcome of one stream entry, for callers that record metadata (sizes, durations).
public struct StreamOutcome: Sendable {
    public var path: [String]
    public var bytes: UInt64
    public var seconds: Double
}

extension Archiver {
    /// Stores several streams (command outputs and in-memory files) as one snapshot, each under its
    /// own path. Streams are read one after another, straight into the chunker (no temporary files).
    /// If any command fails, no snapshot is saved and the error names the command (chunks already
    /// stored stay indexed so the next run reuses them). `source` is recorded in the snapshot
    /// ("command", "postgres", …); `paths` defaults to the entries' paths.
    public func runStreams(_ entries: [StreamEntry], source: String, paths: [String]? = nil,
                           onEntryDone: (@Sendable (StreamOutcome) -> Void)? = nil) async throws -> (result: BackupResult, outcomes: [StreamOutcome]) {
        try await repository.withLock(.shared) { _ in try await runStreamsLocked(entries, source: source, paths: paths, onEntryDone: onEntryDone) }
    }

    private func runStreamsLocked(_ entries: [StreamEntry], source: String, paths: [String]? = nil,
                           onEntryDone: (@Sendable (StreamOutcome) -> Void)? = nil) async throws -> (result: BackupResult, outcomes: [StreamOutcome]) {
        let started = Date()
        guard !entries.isEmpty else { throw KuraError(.invalidArgument, "nothing to back up") }
        for e in entries {
            guard !e.path.isEmpty, e.path.allSatisfy({ !$0.isEmpty && !$0.contains("/") && $0 != "." && $0 != ".." && !$0.contains("\0") }) else {
                throw KuraError(.invalidArgument, "invalid path in snapshot: \(e.path.joined(separator: "/"))")
            }
        }
        try await verifyIndex()
        try await repository.loadIndex()
        var outcomes: [StreamOutcome] = []
        var files: [([String], Node)] = []
        var total: UInt64 = 0
        for entry in entries {
            let t0 = Date()
            let content: (extents: [Extent], length: UInt64)
            switch entry.content {
            case .bytes(let b):
                var reader = MemoryReader(bytes: b)
                content = try await saver.save(&reader, expectedLength: Int64(b.count))
            case .command(let argv, let extra):
                content = try await streamCommand(argv, environment: extra)
            case .deferred(let make):
                let b = try await make(outcomes)
                var reader = MemoryReader(bytes: b)
                content = try await saver.save(&reader, expectedLength: Int64(b.count))
            }
            var node = Node(name: Array(entry.path.last!.utf8), type: .file)
            node.mode = entry.mode
            node.uid = getuid(); node.gid = getgid()
            node.user = accounts.userName(node.uid); node.group = accounts.groupName(node.gid)
            let now = Date()
            node.mtime = Timespec(seconds: Int64(now.timeIntervalSince1970), nanoseconds: UInt32(now.timeIntervalSince1970.truncatingRemainder(dividingBy: 1) * 1e9))
            node.ctime = node.mtime
            node.size = content.length
            node.content = content.extents
            files.append((entry.path, node))
            total += content.length
            let outcome = StreamOutcome(path: entry.path, bytes: content.length, seconds: Date().timeIntervalSince(t0))
            outcomes.append(outcome)
            onEntryDone?(outcome)
        }
        let root = try await saveStreamTree(files, depth: 0)
        try await repository.flush()
        let displayPaths = paths ?? entries.map { "/" + $0.path.joined(separator: "/") }
        var snapshot = Snapshot(time: options.time ?? started, host: options.host ?? Host.name, username: Host.userName,
                                paths: displayPaths, tree: root, program: Archiver.programVersion)
        snapshot.tags = options.tags
        snapshot.source = source
        if entries.count == 1, case .command(let argv, _) = entries[0].content { snapshot.command = argv }
        var summary = Snapshot.Summary()
        summary.files = files.count
        summary.totalBytes = total
        snapshot.summary = finalSummary(summary, started: started)
        snapshot = try await repository.saveSnapshot(snapshot)
        return (BackupResult(snapshot: snapshot, errors: [], warnings: log.withLock { $0.warnings }), outcomes)
    }

    /// Builds the directory trees above stream files (folders are 0700, owned by the running user).
    private func saveStreamTree(_ files: [([String], Node)], depth: Int) async throws -> BlobID {
        var nodes: [Node] = []
        var folders: [String: [([String], Node)]] = [:]
        for (path, node) in files {
            if path.count == depth + 1 { nodes.append(node) } else { folders[path[depth], default: []].append((path, node)) }
        }
        for (name, children) in folders {
            var dir = Node(name: Array(name.utf8), type: .directory)
            dir.mode = 0o700
            dir.uid = getuid(); dir.gid = getgid()
            dir.user = accounts.userName(dir.uid); dir.group = accounts.groupName(dir.gid)
            dir.mtime = children.first?.1.mtime ?? dir.mtime
            dir.subtree = try await saveStreamTree(children, depth: depth + 1)
            nodes.append(dir)
        }
        return try await repository.saveTree(Tree(nodes: nodes)).id
    }

    /// Runs a command and stores its standard output; fails when the command fails. The command runs
    /// through ``ProcessRunner``: its own process group, kura's environment minus its secrets, its
    /// standard error passed through (escaped) with the tail quoted in the error, and stopped with
    /// kura when kura is told to stop.
    func streamCommand(_ command: [String], environment extra: [String: String]) async throws -> (extents: [Extent], length: UInt64) {
        guard !command.isEmpty else { throw KuraError(.invalidArgument, "empty command") }
        let saver = self.saver
        let child = ChildCommand(command, environment: extra, stderrTailBytes: 4096, passStderrThrough: true)
        let content: (extents: [Extent], length: UInt64)
        let result: ChildResult
        do {
            (content, result) = try await ProcessRunner.stream(child) { output in
                var reader = ChildOutputReader(iterator: output.makeAsyncIterator())
                return try await saver.save(&reader, expectedLength: nil)
            }
        } catch var e as KuraError where e.code == .notFound || e.code == .permissionDenied {
            e.hint = "check the command and PATH; no snapshot was saved"
            throw e
        }
        guard result.status.succeeded else {
            try? await repository.flush()
            throw KuraError(.commandFailed, "\(command.joined(separator: " ")) \(result.status) after writing \(content.length) bytes; no snapshot was saved"
                            + result.quotedStderr(),
                            hint: "earlier snapshots are intact; fix the command's problem and run again")
        }
        return content
    }
}

/// Reads from an in-memory buffer.
struct MemoryReader: ContentReader {
    let bytes: [UInt8]
    var offset = 0
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        if n > 0 { bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) } }
        offset += n
        return n
    }
}
