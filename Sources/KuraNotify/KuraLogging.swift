import Foundation
import Logging

/// kura's logging set-up on top of swift-log: one line per event to standard error and, optionally, to
/// a size-rotated file; text or JSON; and the latest lines kept in memory for report log tails.
///
/// ```swift
/// KuraLogging.bootstrap(level: .info, format: .text, logFile: "/var/log/kura/kura.log")
/// let log = Logger(label: "kura.run")
/// log.info("kura-run-summary", metadata: ["source": "db", "result": "ok", "snapshot": "1a2b3c4d", "duration": "12.3s"])
/// // 2026-11-29T17:00:14.512+01:00 info kura.run: kura-run-summary duration=12.3s result=ok snapshot=1a2b3c4d source=db
/// ```
public enum KuraLogging {
    /// How each event is written.
    public enum Format: String, Sendable, Codable, CaseIterable {
        /// `TIME LEVEL LABEL: MESSAGE key=value …`
        case text
        /// One JSON object per line: `time`, `level`, `label`, `message`, `metadata`.
        case json
    }

    /// The sink every bootstrapped logger writes to.
    static let shared = LogSink()
    private static let once = NSLock()
    nonisolated(unsafe) private static var bootstrapped = false

    /// Bootstraps swift-log once: stderr handler (text or json) + optional file handler with size-based rotation (keep N files, e.g. kura.log, kura.log.1 …), one line per event, level from argument.
    ///
    /// `keep` counts all files, the live one included (`keep: 5` → `kura.log` … `kura.log.4`). A later call
    /// changes the configuration of every logger (swift-log itself is bootstrapped only the first time).
    /// When the log file cannot be opened, a warning goes to standard error and logging goes on without it.
    /// `standardError: false` writes only to the file (and memory).
    public static func bootstrap(level: Logger.Level, format: Format, logFile: String?, maxBytes: Int = 10 << 20, keep: Int = 5,
                                 standardError: Bool = true) {
        let problem = shared.configure(level: level, format: format, standardError: standardError, logFile: logFile, maxBytes: maxBytes, keep: keep)
        once.lock()
        if !bootstrapped {
            bootstrapped = true
            LoggingSystem.bootstrap { label in KuraLogHandler(label: label, sink: shared) }
        }
        once.unlock()
        if let problem {
            shared.configure(level: level, format: format, standardError: true, logFile: nil, maxBytes: maxBytes, keep: keep)
            Logger(label: "kura").warning("\(problem); logging to standard error only")
        }
    }

    /// The last n lines logged in this process (kept in memory, for report log tails).
    ///
    /// Lines are in text form whatever the output format; at most the last 1,000 are kept. `info` events
    /// are kept even when the output level is `warning` or higher (a quiet log still leaves context for
    /// a failure report).
    public static func recentLines(_ n: Int, since mark: UInt64 = 0) -> [String] {
        shared.recentLines(n, since: mark)
    }

    /// A position in the log: lines logged after it are `recentLines(n, since: mark)`.
    public static var mark: UInt64 { shared.mark }
}
