import Foundation
import KuraTestSupport
import Testing

/// The real thing end to end: `kura serve` (the kura binary, which execs kura-serve) on a free loopback
/// port, and Debian's headless Chromium clicking through it over the DevTools protocol
/// (browser_check.py): overview screenshot into .build/test-output/, then source → snapshot → folders →
/// file, downloaded by the browser and compared byte for byte with the backed-up file.
@Suite(.serialized) struct BrowserTests {
    /// Starts `kura serve ARGUMENTS` and returns it with the base URL it printed.
    static func startServe(_ fixture: ServeFixture, _ arguments: [String]) throws -> (TestProcess.Launched, String) {
        let output = Pipe()
        let errors = fixture.root + "/serve-\(UUID().uuidString.prefix(6)).err"
        let server = try TestProcess.start(KuraBinary.url, ["serve", "--config", fixture.configPath] + arguments,
                                           environment: fixture.processEnvironment, stdout: .handle(output), stderr: .file(URL(fileURLWithPath: errors)))
        // "kura serve: listening on http://127.0.0.1:PORT/"
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        while !line.contains(10), Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let url = text.range(of: "http://").map({ String(text[$0.lowerBound...].prefix { !$0.isWhitespace }) }) else {
            kill(server.pid, SIGKILL)
            throw FixtureError(description: "kura serve did not start: \(text) \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        }
        return (server, String(url.dropLast()))
    }

    /// The real program on a non-loopback address with a token, over TCP: 401 without the token or with a
    /// wrong one, 200 with it, 405 for a POST; and SIGTERM (what systemd sends) stops it cleanly, exit 0.
    @Test func theProgramWithATokenOverTCPAndSIGTERM() async throws {
        let fixture = try await ServeFixture()
        let tokenFile = fixture.root + "/token"
        let token = "live-token-0123456789abcdef"
        try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
        chmod(tokenFile, 0o600)
        let (server, base) = try BrowserTests.startServe(fixture, ["--listen", "0.0.0.0:0", "--token-file", tokenFile])
        let port = base.split(separator: ":").last.map(String.init) ?? ""
        let url = "http://127.0.0.1:\(port)/metrics"
        let without = try TestProcess.command(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url])
        #expect(without.out == "401", "\(without)")
        let wrong = try TestProcess.command(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)-", url])
        #expect(wrong.out == "401", "\(wrong)")
        let with = try TestProcess.command(["curl", "-s", "-H", "Authorization: Bearer \(token)", url])
        #expect(with.out.contains("kura_source_last_run_success{source=\"files\"} 1"), "\(with)")
        let post = try TestProcess.command(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Authorization: Bearer \(token)", url])
        #expect(post.out == "405", "\(post)")

        kill(server.pid, SIGTERM)
        let stopped = await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await server.wait() }
            group.addTask { try? await Task.sleep(for: .seconds(20)); return nil }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        if stopped == nil { kill(server.pid, SIGKILL) }
        #expect(stopped == 0, "SIGTERM must stop kura serve cleanly (exit 0), got \(String(describing: stopped))")
    }

    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func chromiumLoadsTheOverviewAndDownloadsAFile() async throws {
        let chromium = try #require(BrowserTests.chromium, "chromium is not installed: `make test-deps` installs Debian's chromium")
        let fixture = try await ServeFixture()
        let (server, base) = try BrowserTests.startServe(fixture, ["--listen", "127.0.0.1:0"])
        defer { kill(server.pid, SIGTERM) }
        let expected = fixture.root + "/expected.bin"
        try Data(fixture.blob).write(to: URL(fileURLWithPath: expected))

        let r = try await TestProcess.run(URL(fileURLWithPath: "/usr/bin/env"),
                                          ["python3", TestOutput.script("browser_check.py"), "--chromium", chromium, "--base", base,
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
