import Foundation
import KuraProcess
import KuraFileSystem
import KuraRepository

/// Reads a child's standard output (see ``ProcessRunner/stream(_:input:stdout:)``): `prepare` awaits
/// blocks from the pipe until a whole read's worth is here, `read` hands them out. Only as much as
/// one block is buffered, so a command that writes faster than the repository stores waits on its pipe.
struct ChildOutputReader: ContentReader {
    var iterator: ChildOutput.AsyncIterator
    var buffered: [UInt8] = []
    var offset = 0
    var ended = false

    mutating func prepare(_ count: Int) async throws {
        if offset > 0 { buffered.removeFirst(offset); offset = 0 }
        while !ended, buffered.count < count {
            if let block = try await iterator.next() { buffered += block } else { ended = true }
        }
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, buffered.count - offset)
        if n == 0 {
            // prepare() gathered a block or reached the end; anything else is a logic error here.
            guard ended else { throw KuraError(.fatal, "internal error: a command's output was read before it arrived") }
            return 0
        }
        buffered.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        offset += n
        return n
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
