import Foundation
import Hummingbird
import HummingbirdTesting
import KuraOperations
import KuraRepository
@testable import KuraServer
import KuraTestSupport
import Logging
import NIOCore
import Testing

/// The dashboard in-process (hummingbird's router test client, no socket): every route over a real
/// repository with real backups, the token rule and read-only.
@Suite(.serialized) struct RouteTests {
    static let logger = Logger(label: "kura.serve.test")

    func body(_ r: TestResponse) -> String { String(buffer: r.body) }
    func bytes(_ r: TestResponse) -> [UInt8] { Array(buffer: r.body) }
    func object(_ r: TestResponse) throws -> [String: Any] { try JSONSerialization.jsonObject(with: Data(bytes(r))) as! [String: Any] }

    @Test func everyRouteAnswersFromTheRepository() async throws {
        let fixture = try await ServeFixture()
        let app = try fixture.server().application(logger: RouteTests.logger)
        try await app.test(.router) { client in
            // Overview: every source, the failed one and the late one marked.
            let overview = try await client.execute(uri: "/", method: .get)
            #expect(overview.status == .ok)
            #expect(overview.headers[.contentType] == "text/html; charset=utf-8")
            #expect(overview.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'none'") == true)
            let page = body(overview)
            for name in ["files", "broken", "idle"] { #expect(page.contains("data-source=\"\(name)\""), "\(name) missing") }
            #expect(page.contains("<tr class=\"failed\" data-source=\"broken\">"))
            #expect(page.contains("<tr class=\"late\" data-source=\"idle\">"))
            #expect(page.contains("<svg class=\"chart\""))
            #expect(page.contains("NOT HEALTHY"))
            #expect(page.contains("<th>offsite</th>") && page.contains("\(fixture.root)/offsite: <span class=\"ok\">ok</span> · lag"), "the offsite column")

            // The same figures as JSON.
            let o = try object(try await client.execute(uri: "/api/overview", method: .get))
            let sources = o["sources"] as! [[String: Any]]
            let files = sources.first { ($0["status"] as! [String: Any])["name"] as? String == "files" }!
            let status = files["status"] as! [String: Any]
            #expect(status["lastResult"] as? String == "success")
            #expect(status["snapshotCount"] as? Int == 4)
            #expect(files["late"] as? Bool == false)
            let days = files["bytesAddedPerDay"] as! [[String: Any]]
            #expect(days.count == Overview.historyDays)
            #expect(days.suffix(4).allSatisfy { ($0["bytes"] as? Int ?? 0) > 0 }, "four days with backups: \(days.suffix(5))")
            #expect(((status["lastVerifiedRestoreResult"] as? String) ?? "").hasPrefix("ok"))
            #expect(sources.first { ($0["status"] as! [String: Any])["name"] as? String == "idle" }?["late"] as? Bool == true)
            let storage = o["storage"] as! [String: Any]
            #expect((storage["storedBytes"] as? Int ?? 0) > 0)
            #expect((storage["freeBytes"] as? Int ?? 0) > 0)
            #expect(storage["daysUntilFull"] is Double)
            #expect(o["healthy"] as? Bool == false)

            // One source's calendar and its snapshots.
            let calendar = body(try await client.execute(uri: "/sources/files", method: .get))
            #expect(calendar.contains("<table class=\"cal\">"))
            #expect(calendar.components(separatedBy: "class=\"snapshot\"").count - 1 == 4)
            let snaps = try JSONSerialization.jsonObject(with: Data(bytes(try await client.execute(uri: "/api/sources/files/snapshots", method: .get)))) as! [[String: Any]]
            #expect(snaps.count == 4)
            let id = try #require(snaps.last?["id"] as? String)
            #expect(try object(try await client.execute(uri: "/api/snapshots/\(id.prefix(12))", method: .get))["id"] as? String == id)

            // The browser: folders, then a file streamed back byte for byte, then a folder as .tar.gz.
            let root = body(try await client.execute(uri: "/snapshots/\(id)", method: .get))
            #expect(root.contains("class=\"dir\""))
            let dataDir = PathQuery.encode(Array((fixture.source + "/data").utf8))
            let listing = try object(try await client.execute(uri: "/api/snapshots/\(id)/ls?path=\(dataDir)", method: .get))
            let names = (listing["entries"] as! [[String: Any]]).compactMap { $0["name"] as? String }
            #expect(names.contains("blob.bin") && names.contains("deeper"), "\(names)")
            let blob = try await client.execute(uri: "/snapshots/\(id)/file?path=\(dataDir)/blob.bin", method: .get)
            #expect(blob.status == .ok)
            #expect(blob.headers[.contentDisposition]?.contains("blob.bin") == true)
            #expect(Data(bytes(blob)) == Data(fixture.blob))
            #expect(Data(bytes(try await client.execute(uri: "/snapshots/latest/file?path=\(dataDir)/blob.bin", method: .get))) == Data(fixture.blob))
            // A name that is not UTF-8 travels percent-encoded byte by byte.
            let odd = PathQuery.encode(Array((fixture.source + "/data/").utf8) + ServeFixture.oddName)
            #expect(body(try await client.execute(uri: "/snapshots/\(id)/file?path=\(odd)", method: .get)) == "odd name, odd bytes\n")
            let archive = try await client.execute(uri: "/snapshots/\(id)/archive?path=\(dataDir)/deeper", method: .get)
            #expect(archive.status == .ok)
            let tgz = try TemporaryFolder("kura-serve-tgz")
            try Data(bytes(archive)).write(to: URL(fileURLWithPath: tgz.file("d.tar.gz")))
            let list = try TestProcess.command(["tar", "-xzf", tgz.file("d.tar.gz"), "-C", tgz.path])
            #expect(list.status == 0, "\(list)")
            #expect(try String(contentsOfFile: tgz.file("deeper/note.txt"), encoding: .utf8) == "deep\n")

            // Errors: what is missing is 404 with a JSON error for the API, a page for the browser.
            let missing = try await client.execute(uri: "/api/sources/nope/snapshots", method: .get)
            #expect(missing.status == .notFound)
            #expect((try object(missing)["error"] as? [String: Any])?["code"] as? String == "notFound")
            #expect(try await client.execute(uri: "/snapshots/\(id)/file?path=/no/such/file", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/snapshots/zzzz", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/snapshots/\(id)/file?path=\(dataDir)", method: .get).status == .badRequest)

            // Metrics: the renderer's text, with its content type.
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.headers[.contentType] == MetricsText.contentType)
            #expect(body(metrics).contains("kura_source_last_run_success{source=\"broken\"} 0"))
        }
    }

    /// A server that stays up: snapshots saved after it started (new chunks, new index files) are
    /// listed, browsed and downloaded without a restart.
    @Test func snapshotsSavedLaterCanBeDownloaded() async throws {
        let fixture = try await ServeFixture()
        let app = try fixture.server().application(logger: RouteTests.logger)
        try await app.test(.router) { client in
            let before = try object(try await client.execute(uri: "/api/overview", method: .get))
            let storedBefore = (before["storage"] as! [String: Any])["storedBytes"] as! Int
            _ = try await client.execute(uri: "/api/sources/files/snapshots", method: .get)  // index loaded now

            let fresh = randomBytes(200 << 10, seed: 99)
            try Data(fresh).write(to: URL(fileURLWithPath: fixture.source + "/fresh.bin"))
            let outcome = try await ServeFixture.runner(fixture.config).run(RunRequest(sources: ["files"]))
            let id = try #require(outcome.results.first?.report.snapshotID)

            let snaps = try JSONSerialization.jsonObject(with: Data(bytes(try await client.execute(uri: "/api/sources/files/snapshots", method: .get)))) as! [[String: Any]]
            #expect(snaps.last?["id"] as? String == id)
            let file = PathQuery.encode(Array((fixture.source + "/fresh.bin").utf8))
            let r = try await client.execute(uri: "/snapshots/\(id)/file?path=\(file)", method: .get)
            #expect(r.status == .ok, "\(body(r))")
            #expect(Data(bytes(r)) == Data(fresh))
            let after = try object(try await client.execute(uri: "/api/overview", method: .get))
            #expect((after["storage"] as! [String: Any])["storedBytes"] as! Int > storedBefore)
        }
    }

    @Test func readOnlyRefusesEveryOtherMethod() async throws {
        let fixture = try await ServeFixture()
        let app = try fixture.server().application(logger: RouteTests.logger)
        try await app.test(.router) { client in
            for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
                for uri in ["/", "/api/overview", "/snapshots/abcd", "/metrics"] {
                    let r = try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "x"))
                    #expect(r.status == .methodNotAllowed, "\(method) \(uri)")
                    #expect(r.headers[.allow] == "GET")
                }
            }
        }
        // Nothing changed: the same snapshots as before.
        #expect(try await fixture.openRepository().snapshotIDs().count == 4)
    }

    @Test func aTokenIsRequiredWhenSet() async throws {
        let fixture = try await ServeFixture()
        let token = "s3cret-token-0123456789"
        let app = try fixture.server(token: token).application(logger: RouteTests.logger)
        try await app.test(.router) { client in
            for uri in ["/", "/api/overview", "/metrics", "/sources/files"] {
                let none = try await client.execute(uri: uri, method: .get)
                #expect(none.status == .unauthorized, "\(uri)")
                #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
                #expect(try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer wrong-token-0123456789"]).status == .unauthorized)
                #expect(try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)x"]).status == .unauthorized)
                #expect(try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"]).status == .ok)
                let basic = Data("anyone:\(token)".utf8).base64EncodedString()
                #expect(try await client.execute(uri: uri, method: .get, headers: [.authorization: "Basic \(basic)"]).status == .ok)
            }
            // A wrong token gets no data.
            #expect(!String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer nope"]).body).contains("kura_"))
        }
    }

    @Test func listeningBeyondLoopbackNeedsAToken() throws {
        for host in ["0.0.0.0", "192.168.1.5", "::", "example.com"] {
            var o = DashboardOptions()
            o.host = host
            #expect(throws: KuraError.self) { try o.validated() }
            o.token = Array("a-token-of-enough-length".utf8)
            #expect(throws: Never.self) { try o.validated() }
        }
        for host in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] {
            var o = DashboardOptions()
            o.host = host
            #expect(throws: Never.self) { try o.validated() }
        }
        #expect(try DashboardOptions.parseListen("0.0.0.0:9000") == ("0.0.0.0", 9000))
        #expect(try DashboardOptions.parseListen("[::1]:8080") == ("::1", 8080))
        #expect(try DashboardOptions.parseListen(":9100") == ("127.0.0.1", 9100))
        #expect(throws: KuraError.self) { try DashboardOptions.parseListen("127.0.0.1:99999") }
    }

    /// The real program: `kura serve` (which execs kura-serve) refuses an open address without a token
    /// (exit 64) and a token file others can read; it starts with a good one.
    @Test func theProgramRefusesToStartWithoutAToken() async throws {
        let fixture = try await ServeFixture()
        let env = fixture.processEnvironment
        let open = try await TestProcess.run(KuraBinary.url, ["serve", "--config", fixture.configPath, "--listen", "0.0.0.0:0"], environment: env)
        #expect(open.status == 64, "\(open)")
        #expect(open.err.contains("only with a bearer token") && open.err.contains("--token-file"), "\(open)")

        let tokenFile = fixture.root + "/token"
        try Data("0123456789abcdef-token\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
        chmod(tokenFile, 0o644)
        let loose = try await TestProcess.run(KuraBinary.url, ["serve", "--config", fixture.configPath, "--listen", "0.0.0.0:0", "--token-file", tokenFile], environment: env)
        #expect(loose.status != 0)
        #expect(loose.err.contains("token file") && loose.err.contains("chmod 600"), "\(loose)")

        try Data("short\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
        chmod(tokenFile, 0o600)
        let short = try await TestProcess.run(KuraBinary.url, ["serve", "--config", fixture.configPath, "--listen", "0.0.0.0:0", "--token-file", tokenFile], environment: env)
        #expect(short.status != 0 && short.err.contains("at least 16"), "\(short)")
    }
}

extension ServeFixture {
    func openRepository() async throws -> Repository {
        try await Resources.openRepository(config, ServeFixture.environment())
    }
}
