import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A program run on a real pseudo-terminal (openpty, 80×24): standard input, output and error are the
/// terminal, so `isatty` is true and the line discipline echoes what is typed, as over SSH. Tests
/// drive it like `expect`: wait for text, type a line.
public final class PseudoTerminal: @unchecked Sendable {
    private var master: Int32 = -1
    private let process = Process()
    private var buffer = [UInt8]()
    private var consumed = 0
    /// Everything the program wrote (and the terminal echoed) so far.
    public var transcript: String { String(decoding: buffer, as: UTF8.self) }

    public init(_ executable: URL, _ arguments: [String], environment: [String: String], directory: URL? = nil) throws {
        var m: Int32 = 0, s: Int32 = 0
        var size = winsize(ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&m, &s, nil, nil, &size) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        master = m
        let slave = FileHandle(fileDescriptor: s, closeOnDealloc: true)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment.merging(["TERM": "vt100", "COLUMNS": "80", "LINES": "24"]) { _, new in new }
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = slave
        process.standardOutput = slave
        process.standardError = slave
        try process.run()
        try slave.close()
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        if process.isRunning { process.terminate() }
        if master >= 0 { close(master) }
    }

    /// Reads what is available within `seconds`; false once the program closed the terminal.
    @discardableResult
    private func pump(_ seconds: Double) -> Bool {
        var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, Int32(seconds * 1000)) > 0 else { return true }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = read(master, &chunk, chunk.count)
        if n > 0 { buffer += chunk[0..<n]; return true }
        return n < 0 && (errno == EAGAIN || errno == EINTR)
    }

    /// Waits until the output since the last `expect` contains `text`; returns that output.
    @discardableResult
    public func expect(_ text: String, timeout: Double = 60, sourceLocation: StaticString = #fileID) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        let needle = Array(text.utf8)
        while true {
            if let r = range(of: needle, from: consumed) {
                let out = String(decoding: buffer[consumed..<r], as: UTF8.self)
                consumed = r
                return out
            }
            guard Date() < deadline, pump(min(0.2, max(0.01, deadline.timeIntervalSinceNow))) || range(of: needle, from: consumed) != nil else {
                throw PseudoTerminalError(message: "did not see \"\(text)\" within \(timeout) s; the terminal showed:\n\(String(decoding: buffer[consumed...], as: UTF8.self))")
            }
        }
    }

    private func range(of needle: [UInt8], from start: Int) -> Int? {
        guard buffer.count - start >= needle.count else { return nil }
        for i in start...(buffer.count - needle.count) where buffer[i] == needle[0] && Array(buffer[i..<(i + needle.count)]) == needle {
            return i + needle.count
        }
        return nil
    }

    /// Types a line (and Enter).
    public func send(_ line: String) {
        let bytes = Array((line + "\r").utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Waits for the program to end, collecting the rest of its output; returns its exit status.
    public func wait(timeout: Double = 120) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                process.terminate()
                throw PseudoTerminalError(message: "the program did not end within \(timeout) s; it showed:\n\(transcript)")
            }
            pump(0.1)
        }
        while pump(0.05), Date() < deadline { if (try? pollOnce()) != true { break } }
        return process.terminationStatus
    }

    private func pollOnce() throws -> Bool {
        var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        return poll(&fds, 1, 50) > 0
    }
}

public struct PseudoTerminalError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
