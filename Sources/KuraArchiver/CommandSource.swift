import Foundation
import KuraFileSystem
import KuraRepository

/// Reads a pipe until end of file.
struct PipeReader: ContentReader {
    let fd: Int32
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FileSystemError("read", path: Array("<command output>".utf8), errno: errno)
        }
    }
}

extension Archiver {
    /// Runs `command` and stores its standard output as the file `/NAME` of a new snapshot, streaming
    /// (no temporary file). The command's standard error passes through. A command that fails (non-zero
    /// exit, killed by a signal, or cannot be started) fails the backup: no snapshot is saved; chunks
    /// already stored stay indexed so the next run reuses them.
    public func runCommand(_ command: [String], filename: String) async throws -> BackupResult {
        let started = Date()
        guard let executable = command.first else {
            throw KuraError(.invalidArgument, "--stdin-from-command needs a command after --", hint: "e.g. kura backup --stdin-filename db.sql --stdin-from-command -- pg_dump app")
        }
        let name = Array(filename.utf8)
        guard !name.isEmpty, !filename.contains("\0"), !filename.contains("/"), filename != ".", filename != ".." else {
            throw KuraError(.invalidArgument, "--stdin-filename needs a plain file name (no '/'), e.g. app.sql")
        }
        try await repository.loadIndex()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        process.arguments = executable.contains("/") ? Array(command.dropFirst()) : command
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardInput = FileHandle.nullDevice
        // The command gets our environment minus kura's secrets (a dump of `env` must not store them).
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_PASSWORD") && $0.key != "KURA_NEW_PASSWORD_FILE" }
        do { try process.run() } catch {
            throw KuraError(.commandFailed, "cannot start \(executable): \(error)", hint: "check the command and PATH; no snapshot was saved")
        }
        try? pipe.fileHandleForWriting.close()
        var reader = PipeReader(fd: pipe.fileHandleForReading.fileDescriptor)
        let content: (extents: [Extent], length: UInt64)
        do { content = try await saver.save(&reader, expectedLength: nil) } catch {
            process.terminate()
            process.waitUntilExit()
            throw error
        }
        process.waitUntilExit()
        // Whatever happens next, what was stored stays usable by the next run.
        try await repository.flush()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            throw KuraError(.commandFailed, "\(command.joined(separator: " ")) \(how) after writing \(content.length) bytes; no snapshot was saved",
                            hint: "see the command's error output above; earlier snapshots are intact")
        }

        var node = Node(name: name, type: .file)
        node.mode = 0o600
        node.uid = getuid(); node.gid = getgid()
        node.user = accounts.userName(node.uid); node.group = accounts.groupName(node.gid)
        let now = Date()
        node.mtime = Timespec(seconds: Int64(now.timeIntervalSince1970), nanoseconds: UInt32((now.timeIntervalSince1970.truncatingRemainder(dividingBy: 1)) * 1e9))
        node.ctime = node.mtime
        node.size = content.length
        node.content = content.extents
        count(node, path: [47] + name)
        let tree = try await repository.saveTree(Tree(nodes: [node])).id
        try await repository.flush()

        var snapshot = Snapshot(time: options.time ?? started, host: options.host ?? Host.name, username: Host.userName,
                                paths: [PathBytes.display([47] + name)], tree: tree, program: Archiver.programVersion)
        snapshot.tags = options.tags
        snapshot.source = "command"
        snapshot.command = command
        snapshot.summary = finalSummary(Snapshot.Summary(files: 1, totalBytes: content.length), started: started)
        snapshot = try await repository.saveSnapshot(snapshot)
        return BackupResult(snapshot: snapshot, errors: [], warnings: [])
    }
}

extension Snapshot.Summary {
    init(files: Int, totalBytes: UInt64) { self.init(); self.files = files; self.totalBytes = totalBytes }
}
