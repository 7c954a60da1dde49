import Foundation
import KuraCore

/// Runs a command with bytes on its standard input and collects its combined output (for the
/// sendmail channel). Blocking: call it from a ``BlockingThread``.
///
/// Standard input is one end of a socket pair, written with `MSG_NOSIGNAL`: a command that exits
/// without reading all of it (a failing msmtp) makes the write stop with EPIPE instead of killing
/// kura with SIGPIPE.
enum ChildProcess {
    struct Outcome: Sendable {
        /// The exit status, or the signal number when `signaled`.
        var status: Int32
        var signaled: Bool
        var timedOut: Bool
        /// The last 4 KiB of standard output and standard error, interleaved.
        var output: String
    }

    static func run(_ command: [String], input: [UInt8], timeoutSeconds: Int) throws -> Outcome {
        guard let executable = command.first, !executable.isEmpty else {
            throw KuraError(.invalidArgument, "the sendmail command is empty", hint: "e.g. command = [\"/usr/sbin/sendmail\", \"-t\"]")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        process.arguments = executable.contains("/") ? Array(command.dropFirst()) : command
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_PASSWORD") && $0.key != "KURA_NEW_PASSWORD_FILE" }

        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw KuraError(.io, "cannot create a socket pair for \(executable): \(String(cString: strerror(errno)))")
        }
        let ours = fds[0]
        let childInput = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
        let output = Pipe()
        process.standardInput = childInput
        process.standardOutput = output
        process.standardError = output
        do { try process.run() } catch {
            close(ours)
            try? childInput.close()
            throw KuraError(.commandFailed, "cannot start \(executable): \(error.localizedDescription)",
                            hint: "check the sendmail command's path (e.g. /usr/sbin/sendmail or /usr/bin/msmtp)")
        }
        try? childInput.close()
        try? output.fileHandleForWriting.close()

        let writer = Thread {
            input.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = send(ours, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    if n > 0 { offset += n } else if n < 0, errno == EINTR { continue } else { break }
                }
            }
            close(ours)
        }
        writer.start()

        // Output is read on a thread of its own: a background helper the command leaves behind may keep
        // the pipe open after the command exits, and that must not hang the report.
        let collected = Collected()
        let reader = Thread {
            collected.finish(output.fileHandleForReading.readDataToEndOfFile())
        }
        reader.start()

        // On time-out: SIGTERM, and SIGKILL two seconds later (a command may ignore SIGTERM, and an
        // ignored SIGTERM is inherited from whoever started kura).
        let pid = process.processIdentifier
        let exited = LockedFlag()
        let deadline = DispatchWorkItem {
            guard !exited.value else { return }
            collected.timedOut()
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(2)) { if !exited.value { kill(pid, SIGKILL) } }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(max(1, timeoutSeconds)), execute: deadline)
        process.waitUntilExit()
        exited.set()
        deadline.cancel()
        let (data, didTimeOut) = collected.wait(seconds: 2)
        let tail = String(decoding: data.suffix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Outcome(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                       timedOut: didTimeOut, output: tail)
    }
}

/// The command's output, handed from the reading thread to the waiting one.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()
    private var killed = false

    func finish(_ data: Data) {
        lock.lock(); self.data = data; lock.unlock()
        done.signal()
    }

    func timedOut() { lock.lock(); killed = true; lock.unlock() }

    /// The output once the pipe closed, or nothing after `seconds`; and whether the time-out struck.
    func wait(seconds: Int) -> (Data, Bool) {
        _ = done.wait(timeout: .now() + .seconds(seconds))
        lock.lock(); defer { lock.unlock() }
        return (data, killed)
    }
}

/// A flag set from one thread and read from others.
private final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}
