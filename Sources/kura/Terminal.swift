import ArgumentParser
import Foundation
import KuraRepository

/// Terminal and output helpers shared by the commands.
enum Terminal {
    static var stderrIsTTY: Bool { isatty(2) == 1 }

    /// Reads a line from the terminal without echo.
    static func readSecret(prompt: String) -> [UInt8] {
        FileHandle.standardError.write(Data(prompt.utf8))
        var old = termios()
        let fd: Int32 = 0
        tcgetattr(fd, &old)
        var quiet = old
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &quiet)
        defer { tcsetattr(fd, TCSAFLUSH, &old); FileHandle.standardError.write(Data("\n".utf8)) }
        var out: [UInt8] = []
        var c: UInt8 = 0
        while read(fd, &c, 1) == 1, c != 10 { out.append(c) }
        return out
    }

    /// Asks for a new password twice on the terminal.
    static func readNewPassword() throws -> [UInt8] {
        let pw = readSecret(prompt: "enter the new password: ")
        guard pw == readSecret(prompt: "enter it again: ") else { throw KuraError(.invalidArgument, "the passwords do not match") }
        guard !pw.isEmpty else { throw KuraError(.invalidArgument, "the password is empty") }
        return pw
    }

    /// The text with control characters other than newline and tab shown as `\u{…}` escapes, so that
    /// bytes from a remote server or a failing command cannot drive the terminal.
    /// With `keepingLayout: false` newline and tab are escaped too (for one-line output such as a file
    /// name, where a newline would forge another line).
    static func escapingControls(_ text: String, keepingLayout: Bool = true) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if (scalar.value < 0x20 && !(keepingLayout && (scalar == "\n" || scalar == "\t"))) || (0x7F...0x9F).contains(scalar.value) {
                out += scalar.escaped(asASCII: true)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Writes bytes to stdout, all of them.
    static func writeStdout(_ bytes: [UInt8]) throws {
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = write(1, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw KuraError(.io, "writing to standard output failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    static func json<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try writeStdout(Array(try e.encode(value)) + [10])
    }

    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), u = 0
        while v >= 1024, u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : String(format: "%.2f %@", v, units[u])
    }
}

/// A throttled one-line progress display on stderr (only on a terminal).
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast
    private var shown = false
    let enabled: Bool

    init(enabled: Bool) { self.enabled = enabled && Terminal.stderrIsTTY }

    func update(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(last) > 0.2 else { return }
        last = now
        var line = text()
        if line.count > 120 { line = String(line.prefix(117)) + "..." }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        shown = true
    }

    func finish() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// Runs a command body, turning errors into a message and the documented exit code.
///
/// The one error printer of the command line: every error, whatever layer threw it, is shown as a
/// `KuraError` (``KuraError/from(_:)``): `kura: <message>` and `  hint: <what to do>` on stderr,
/// and with `--json` also `{"error", "code", "hint", "exitCode"}` on stdout. Control characters from
/// outside (a server's answer, a command's stderr) are escaped.
func runReportingErrors(json: Bool, _ body: () async throws -> Int32) async throws {
    let code: Int32
    do { code = try await body() } catch where Termination.receivedSignal != nil {
        try await awaitSignalExit()
    } catch let e as ExitCode {
        throw e
    } catch {
        let e = KuraError.from(error)
        if json {
            struct ErrorJSON: Encodable { var error: String; var code: String; var hint: String?; var exitCode: Int32 }
            try? Terminal.json(ErrorJSON(error: e.message, code: e.code.description, hint: e.hint, exitCode: e.exitCode))
        }
        Terminal.printError("kura: " + Terminal.escapingControls(e.description))
        throw ExitCode(e.exitCode)
    }
    if code != 0 {
        if Termination.receivedSignal != nil { try await awaitSignalExit() }
        throw ExitCode(code)
    }
}

/// kura is stopping (SIGINT/SIGTERM/SIGHUP) and the command failed as a consequence (a child ended by
/// the termination actions): not the error to report. The signal handler says what happened and exits
/// with 128 + signal; this waits for it.
private func awaitSignalExit() async throws -> Never {
    try? await Task.sleep(for: .seconds(60))
    throw ExitCode(128 + (Termination.receivedSignal ?? 0))
}
