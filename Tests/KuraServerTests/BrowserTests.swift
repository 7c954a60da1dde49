import Foundation
import KuraTestSupport
import Testing

/// The real thing end to end: `kura serve` (the kura binary, which execs kura-serve) on a free loopback
/// port, and Debian's headless Chromium clicking through it over the DevTools protocol
/// (browser_check.py): overview screenshot into .build/test-output/, then source → snapshot → folders →
/// file, downloaded by the browser and compared byte for byte with the backed-up file.
@Suite(.serialized) struct BrowserTests {
    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func chromiumLoadsTheOverviewAndDownloadsAFile() async throws {
        let chromium = try #require(BrowserTests.chromium, "chromium is not installed: `make test-deps` installs Debian's chromium")
        let fixture = try await ServeFixture()
        let output = Pipe()
        let server = try TestProcess.start(KuraBinary.url, ["serve", "--config", fixture.configPath, "--listen", "127.0.0.1:0"],
                                           environment: fixture.processEnvironment, stdout: .handle(output), stderr: .file(URL(fileURLWithPath: fixture.root + "/serve.err")))
        defer { kill(server.pid, SIGTERM) }
        // "kura serve: listening on http://127.0.0.1:PORT/"
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        while !line.contains(10), Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        let serveErrors = (try? String(contentsOfFile: fixture.root + "/serve.err", encoding: .utf8)) ?? ""
        let base = try #require(text.range(of: "http://").map { String(text[$0.lowerBound...].prefix { !$0.isWhitespace }) }, "\(text) \(serveErrors)")
        let expected = fixture.root + "/expected.bin"
        try Data(fixture.blob).write(to: URL(fileURLWithPath: expected))

        let r = try await TestProcess.run(URL(fileURLWithPath: "/usr/bin/env"),
                                          ["python3", TestOutput.script("browser_check.py"), "--chromium", chromium, "--base", String(base.dropLast()),
                                           "--out", TestOutput.folder, "--source", "files", "--folder", fixture.source + "/data",
                                           "--file", "blob.bin", "--expect", expected], environment: nil)
        #expect(r.status == 0, "\(r)")
        let summary = try r.jsonObject()
        #expect(summary["match"] as? Bool == true, "\(summary)")
        #expect(summary["bytes"] as? Int == fixture.blob.count)
        // The screenshot is a PNG of a real page.
        let png = try #require(FileManager.default.contents(atPath: TestOutput.folder + "/dashboard.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(png.count > 10_000, "a blank page would be tiny")
        let steps = summary["steps"] as? [[String: Any]] ?? []
        #expect(steps.first?["sources"] as? Int == 3)
    }
}
