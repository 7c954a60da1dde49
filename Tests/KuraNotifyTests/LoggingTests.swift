import Foundation
import Logging
import Testing
@testable import KuraNotify
import KuraTestSupport

/// Logging: line formats, rotation, the in-memory tail. Most tests use a sink of their own (not the
/// process-wide one), so they run in parallel with everything else.
@Suite("logging")
struct LoggingTests {
    private func logger(_ sink: LogSink, _ label: String = "kura.test") -> Logger {
        Logger(label: label) { KuraLogHandler(label: $0, sink: sink) }
    }

    private func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func textLinesKeepMetadataOnOneLine() throws {
        let scratch = try TemporaryFolder("kura-notify")
        let sink = LogSink()
        sink.configure(level: .info, format: .text, standardError: false, logFile: scratch.file("kura.log"), maxBytes: 1 << 20, keep: 3)
        var log = logger(sink, "kura.run")
        log[metadataKey: "run"] = "42"
        log.info("kura-run-summary", metadata: ["source": "db", "result": "failed", "snapshot": "-", "duration": "12.3s",
                                                "error": "pg_dump exited with status 1\n  hint: is \"the server\" running?"])
        log.debug("not shown at info")
        log.warning("two\nlines")

        let written = try lines(scratch.file("kura.log"))
        try #require(written.count == 2, "\(written)")
        let summary = written[0]
        #expect(summary.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d info kura.run: kura-run-summary "#, options: .regularExpression) != nil, "\(summary)")
        #expect(summary.hasSuffix(#" kura-run-summary duration=12.3s error="pg_dump exited with status 1\n  hint: is \"the server\" running?" result=failed run=42 snapshot=- source=db"#), "\(summary)")
        #expect(written[1].hasSuffix(#"warning kura.run: two\nlines run=42"#), "\(written[1])")
        #expect(sink.recentLines(10) == written)
    }

    @Test func jsonLinesParse() throws {
        let scratch = try TemporaryFolder("kura-notify")
        let sink = LogSink()
        sink.configure(level: .debug, format: .json, standardError: false, logFile: scratch.file("kura.log"), maxBytes: 1 << 20, keep: 3)
        let log = logger(sink, "kura.notify")
        log.debug("report sent", metadata: ["channel": "mail", "list": ["a", "b"], "nested": ["k": "v"], "text": "quote \" and\nnewline ü"])
        log.error("plain")
        let written = try lines(scratch.file("kura.log"))
        try #require(written.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: Any])
        #expect(first["level"] as? String == "debug")
        #expect(first["label"] as? String == "kura.notify")
        #expect(first["message"] as? String == "report sent")
        #expect((first["time"] as? String)?.count == 29)
        let metadata = try #require(first["metadata"] as? [String: Any])
        #expect(metadata["channel"] as? String == "mail")
        #expect(metadata["list"] as? [String] == ["a", "b"])
        #expect(metadata["nested"] as? [String: String] == ["k": "v"])
        #expect(metadata["text"] as? String == "quote \" and\nnewline ü")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(written[1].utf8)) as? [String: Any])
        #expect(second["metadata"] == nil)
        // The memory tail is text whatever the output format.
        #expect(sink.recentLines(1).first?.contains("error kura.notify: plain") == true)
    }

    @Test func fileRotatesBySizeKeepingNFiles() throws {
        let scratch = try TemporaryFolder("kura-notify")
        let path = scratch.file("logs/kura.log")  // the folder is created
        let sink = LogSink()
        sink.configure(level: .info, format: .text, standardError: false, logFile: path, maxBytes: 2048, keep: 3)
        let log = logger(sink)
        for i in 0..<200 { log.info("event \(String(format: "%04d", i)) padding padding padding") }

        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.file("logs")).sorted()
        #expect(files == ["kura.log", "kura.log.1", "kura.log.2"])
        var all: [String] = []
        for name in ["kura.log.2", "kura.log.1", "kura.log"] {
            let file = scratch.file("logs/\(name)")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= 2048 && size > 0, "\(name): \(size)")
            all += try lines(file)
        }
        // Oldest to newest, nothing torn, and the newest event is last in kura.log.
        let numbers = all.compactMap { line in line.range(of: #"event \d{4}"#, options: .regularExpression).map { Int(line[$0].dropFirst(6))! } }
        #expect(numbers.count == all.count)
        #expect(numbers == Array((200 - numbers.count)..<200))
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
    }

    @Test func keepOneTruncatesAndMovedFilesAreReopened() throws {
        let scratch = try TemporaryFolder("kura-notify")
        let path = scratch.file("kura.log")
        let sink = LogSink()
        sink.configure(level: .info, format: .text, standardError: false, logFile: path, maxBytes: 1024, keep: 1)
        let log = logger(sink)
        for i in 0..<100 { log.info("line \(i) with some padding to fill the file") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["kura.log"])
        #expect(try lines(path).last?.hasSuffix("line 99 with some padding to fill the file") == true)

        // logrotate moves the file away: the next line goes to a new kura.log.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".old")
        log.info("after the move")
        #expect(try lines(path).count == 1)
        #expect(try lines(path)[0].hasSuffix("after the move"))
    }

    @Test func recentLinesAreTheLastOnes() {
        let sink = LogSink(ringCapacity: 50)
        sink.configure(level: .info, format: .text, standardError: false, logFile: nil, maxBytes: 0, keep: 0)
        let log = logger(sink)
        #expect(sink.recentLines(5).isEmpty)
        for i in 0..<120 { log.info("n=\(i)") }
        let tail = sink.recentLines(30)
        #expect(tail.count == 30)
        #expect(tail.first?.hasSuffix(": n=90") == true, "\(tail.first ?? "")")
        #expect(tail.last?.hasSuffix(": n=119") == true)
        #expect(sink.recentLines(1000).count == 50)
        #expect(sink.recentLines(0).isEmpty)
    }

    @Test("a tail since a mark holds only the lines logged after it (a source's failure report shows its own lines, not the previous source's)")
    func recentLinesSinceAMark() {
        let sink = LogSink(ringCapacity: 50)
        sink.configure(level: .info, format: .text, standardError: false, logFile: nil, maxBytes: 0, keep: 0)
        let log = logger(sink)
        for i in 0..<10 { log.info("previous source \(i)") }
        let mark = sink.mark
        #expect(sink.recentLines(40, since: mark).isEmpty)
        log.info("this source failed")
        #expect(sink.recentLines(40, since: mark).map { $0.components(separatedBy: ": ").last! } == ["this source failed"])
        for i in 0..<100 { log.info("more \(i)") }
        #expect(sink.recentLines(40, since: mark).count == 40)
        #expect(sink.recentLines(1000, since: mark).count == 50, "bounded by the ring")
    }

    @Test func levelFiltersTheOutputsButTheTailKeepsInfo() throws {
        let scratch = try TemporaryFolder("kura-notify")
        let sink = LogSink()
        sink.configure(level: .warning, format: .text, standardError: false, logFile: scratch.file("kura.log"), maxBytes: 1 << 20, keep: 2)
        var log = logger(sink)
        log.debug("dropped everywhere")
        log.info("only in the tail")
        log.warning("everywhere")
        #expect(try lines(scratch.file("kura.log")).map { $0.components(separatedBy: ": ").last! } == ["everywhere"])
        #expect(sink.recentLines(10).map { $0.components(separatedBy: ": ").last! } == ["only in the tail", "everywhere"])

        // A later configuration changes existing loggers; a level set on a logger wins.
        sink.configure(level: .debug, format: .text, standardError: false, logFile: nil, maxBytes: 0, keep: 0)
        log.debug("kept")
        log.logLevel = .error
        log.warning("dropped again")
        #expect(sink.recentLines(10).map { $0.components(separatedBy: ": ").last! } == ["only in the tail", "everywhere", "kept"])
    }

    @Test func unusableLogFileIsReported() throws {
        let scratch = try TemporaryFolder("kura-notify")
        _ = FileManager.default.createFile(atPath: scratch.file("plain-file"), contents: Data())
        let problem = LogSink().configure(level: .info, format: .text, standardError: false,
                                          logFile: scratch.file("plain-file/kura.log"), maxBytes: 4096, keep: 2)
        #expect(problem != nil)
    }

    /// The process-wide set-up, once (swift-log allows one bootstrap per process): it is put back to
    /// standard error only at the end.
    @Test func bootstrapRoutesSwiftLogAndKeepsTheTail() throws {
        let scratch = try TemporaryFolder("kura-notify")
        let path = scratch.file("kura.log")
        KuraLogging.bootstrap(level: .info, format: .text, logFile: path, maxBytes: 4096, keep: 2, standardError: false)
        defer { KuraLogging.bootstrap(level: .info, format: .text, logFile: nil) }
        let marker = UUID().uuidString
        Logger(label: "kura.run").info("kura-run-summary", metadata: ["source": "db", "result": "ok", "snapshot": "1a2b3c4d", "marker": "\(marker)"])
        let line = try #require(try lines(path).first { $0.contains(marker) })
        #expect(line.contains("info kura.run: kura-run-summary marker=\(marker) result=ok snapshot=1a2b3c4d source=db"), "\(line)")
        #expect(KuraLogging.recentLines(100).contains(line))
    }
}
