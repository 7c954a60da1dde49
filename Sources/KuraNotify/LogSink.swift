import Foundation
import Logging

/// Where kura's log events go: standard error and an optional rotated file, each event one line in
/// text or JSON, and an in-memory ring of the latest lines (in text form) for report log tails. The
/// ring also keeps `info` events when the output level is higher.
///
/// One shared sink backs ``KuraLogging``; tests make their own. Thread-safe: one lock orders lines.
final class LogSink: @unchecked Sendable {
    private let lock = NSLock()
    private var level: Logger.Level = .info
    private var format: KuraLogging.Format = .text
    private var toStandardError = true
    private var file: RotatingLogFile?
    private var ring: [String]
    private var ringStart = 0
    /// Lines put in the ring since the start (a position for ``recentLines(_:since:)``).
    private var linesKept: UInt64 = 0
    private let ringCapacity: Int

    init(ringCapacity: Int = 1000) {
        self.ringCapacity = max(1, ringCapacity)
        ring = []
        ring.reserveCapacity(self.ringCapacity)
    }

    /// Replaces the configuration; returns why the log file cannot be written, if it cannot.
    @discardableResult
    func configure(level: Logger.Level, format: KuraLogging.Format, standardError: Bool, logFile: String?, maxBytes: Int, keep: Int) -> String? {
        var opened: RotatingLogFile?
        var problem: String?
        if let logFile, !logFile.isEmpty {
            do { opened = try RotatingLogFile(path: logFile, maxBytes: maxBytes, keep: keep) } catch {
                problem = (error as? CocoaError)?.userInfo[NSLocalizedDescriptionKey] as? String ?? "cannot open log file \(logFile): \(error.localizedDescription)"
            }
        }
        lock.lock()
        self.level = level
        self.format = format
        self.toStandardError = standardError
        self.file = opened
        lock.unlock()
        return problem
    }

    /// The level below which events are dropped altogether: the output level, or `info` when that is
    /// higher, so that a quiet log (`warning`) still leaves context for a failure report's log tail.
    var currentLevel: Logger.Level {
        lock.lock(); defer { lock.unlock() }
        return min(level, .info)
    }

    /// Writes one event.
    func emit(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) {
        let time = LogLine.timestamp()
        let text = LogLine.text(time: time, level: level, label: label, message: message, metadata: metadata)
        lock.lock()
        defer { lock.unlock() }
        let line = format == .json ? LogLine.json(time: time, level: level, label: label, message: message, metadata: metadata) : text
        let bytes = Array((line + "\n").utf8)
        let output = level >= self.level
        if output, toStandardError {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                    if n > 0 { offset += n } else if n < 0, errno == EINTR { continue } else { break }
                }
            }
        }
        if output { file?.write(bytes) }
        linesKept += 1
        if ring.count < ringCapacity { ring.append(text) } else {
            ring[ringStart] = text
            ringStart = (ringStart + 1) % ringCapacity
        }
    }

    /// The last `n` lines (oldest first), in text form whatever the output format; with `since` (a
    /// ``mark``), only lines logged after it (a source's own lines in its failure report).
    func recentLines(_ n: Int, since: UInt64 = 0) -> [String] {
        lock.lock(); defer { lock.unlock() }
        let ordered = Array(ring[ringStart...] + ring[..<ringStart])
        let newer = Int(min(UInt64(ordered.count), linesKept - min(since, linesKept)))
        return Array(ordered.suffix(min(max(0, n), newer)))
    }

    /// A position in the log: pass it to ``recentLines(_:since:)``.
    var mark: UInt64 { lock.lock(); defer { lock.unlock() }; return linesKept }
}
