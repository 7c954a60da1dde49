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
    /// (no temporary file). The command's standard error passes through (and its tail is quoted in the
    /// error). A command that fails (non-zero exit, killed by a signal, or cannot be started) fails the
    /// backup: no snapshot is saved; chunks already stored stay indexed so the next run reuses them.
    public func runCommand(_ command: [String], filename: String) async throws -> BackupResult {
        guard !command.isEmpty else {
            throw KuraError(.invalidArgument, "--stdin-from-command needs a command after --", hint: "e.g. kura backup --stdin-filename db.sql --stdin-from-command -- pg_dump app")
        }
        guard !filename.isEmpty, !filename.contains("\0"), !filename.contains("/"), filename != ".", filename != ".." else {
            throw KuraError(.invalidArgument, "--stdin-filename needs a plain file name (no '/'), e.g. app.sql")
        }
        return try await runStreams([StreamEntry(path: [filename], content: .command(command))], source: "command").result
    }
}
