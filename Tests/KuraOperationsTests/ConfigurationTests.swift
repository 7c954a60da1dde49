import Foundation
import KuraOperations
import Testing
import KuraTestSupport

@Suite("configuration")
struct ConfigurationTests {
    static let examplePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/examples/kura.toml").path

    @Test func theDocumentedExampleParses() throws {
        let c = try ConfigurationParser.load(path: Self.examplePath)
        #expect(c.repository == "/backup/kura")
        #expect(c.timeZone.identifier == "Europe/Berlin")
        #expect(c.sources.map(\.name) == ["db", "volumes"])
        let db = try #require(c.source(named: "db"))
        #expect(db.kind == .postgres && db.scheduleText == ["0 17 * * *"] && db.keep?.daily == 7)
        #expect(db.postgres?.databases == ["app"] && db.postgres?.rowCounts == true)
        #expect(db.check.readDataSubset == "1/7" && db.check.verifyRestore == .monthly)
        let v = try #require(c.source(named: "volumes"))
        #expect(v.kind == .dockerVolume && v.volumes == ["app_uploads", "app_media"] && v.stopContainers == ["*"])
        #expect(v.scheduleText == ["30 17 * * sun", "45 17 * * mon-sat"] && v.fullEvery == [0] && v.keep?.daily == 14)
        #expect(v.before?.timeoutSeconds == 60)
        #expect(c.notify.count == 1 && c.notify[0].to == ["ops@example.com", "oncall@example.com"] && c.notify[0].on == .failure)
        #expect(c.secretKeys.isEmpty, "the example keeps its secrets in files")
        // DB at 17:00 every day; volumes at 17:30 on Sunday and 17:45 otherwise (Berlin time).
        let zone = c.timeZone
        let after = local("Europe/Berlin", 2026, 11, 28, 12, 0)  // a Saturday
        #expect(Schedule(db.schedule, timeZone: zone).next(after: after) == local("Europe/Berlin", 2026, 11, 28, 17, 0))
        let volumes = Schedule(v.schedule, timeZone: zone)
        let sat = try #require(volumes.next(after: after))
        #expect(sat == local("Europe/Berlin", 2026, 11, 28, 17, 45))
        #expect(volumes.next(after: sat) == local("Europe/Berlin", 2026, 11, 29, 17, 30))
    }

    @Test func syntaxErrorsCarryLineAndColumn() throws {
        let text = """
        repository = "/backup/kura"

        [[source]]
        name = "db"
        type = = "postgres"
        """
        let e = try #require(throws: ConfigurationError.self) { try ConfigurationParser.parse(text, file: "kura.toml") }
        #expect(e.issues.count == 1)
        #expect(e.issues[0].line == 5, "\(e)")
        #expect(e.issues[0].column != nil)
        #expect(e.description.hasPrefix("kura.toml:5:"), "\(e)")
    }

    @Test func valueErrorsPointAtTheKey() throws {
        let text = """
        repository = "/backup/kura"
        password-file = "/etc/kura/password"

        [[source]]
        name = "db"
        type = "postgres"
        dsn = "postgresql://localhost/postgres"
        schedule = "0 25 * * *"

        [[source]]
        name = "files"
        type = "directory"
        paths = ["relative/path"]
        keep = { daily = -1, weekly = 4 }
        full-every = "sunday-ish"
        scheduel = "0 1 * * *"

        [[notify]]
        type = "sendmail"
        to = ["ops@example.com", "not-an-address"]
        on = "sometimes"
        """
        let e = try #require(throws: ConfigurationError.self) { try ConfigurationParser.parse(text, file: "kura.toml") }
        func issue(_ key: String) -> ConfigurationError.Issue? { e.issues.first { $0.key == key } }
        let cron = try #require(issue("source[0].schedule"), "\(e)")
        #expect(cron.line == 8 && cron.column == 12, "\(cron)")
        #expect(cron.message.contains("hour 25 is out of range"), "\(cron)")
        let path = try #require(issue("source[1].paths[0]"), "\(e)")
        #expect(path.line == 13 && path.column == 10, "\(path)")
        let keep = try #require(issue("source[1].keep.daily"), "\(e)")
        #expect(keep.line == 14 && keep.column == 18, "\(keep)")
        let full = try #require(issue("source[1].full-every"))
        #expect(full.line == 15)
        let typo = try #require(issue("source[1].scheduel"))
        #expect(typo.line == 16 && typo.column == 1 && typo.hint == "did you mean 'schedule'?", "\(typo)")
        let to = try #require(issue("notify[0].to[1]"))
        #expect(to.line == 20 && to.column == 26, "\(to)")
        let on = try #require(issue("notify[0].on"))
        #expect(on.line == 21, "\(on)")
        #expect(e.description.contains("kura.toml:8:12: source \"db\":"), "\(e)")
    }

    @Test func missingEssentials() throws {
        let e = try #require(throws: ConfigurationError.self) { try ConfigurationParser.parse("password = \"x\"\n") }
        #expect(e.issues.contains { $0.message.contains("names no repository") })
        #expect(e.issues.contains { $0.message.contains("no [[source]]") })
        let e2 = try #require(throws: ConfigurationError.self) {
            try ConfigurationParser.parse("repository = \"/r\"\n[[source]]\nname = \"a\"\ntype = \"docker-volume\"\n[[source]]\nname = \"a\"\ntype = \"ftp\"\n")
        }
        #expect(e2.issues.contains { $0.message.contains("needs a volume") && $0.line == 2 }, "\(e2)")
        #expect(e2.issues.contains { $0.message.contains("unknown type \"ftp\"") && $0.line == 7 }, "\(e2)")
    }

    @Test func secretsMakeAReadableConfigAnError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kura-cfg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/kura.toml"
        try Data("""
        repository = "/backup/kura"
        password = "inline secret"
        [[source]]
        name = "a"
        type = "directory"
        paths = ["/srv"]
        """.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        let c = try ConfigurationParser.load(path: path)
        #expect(c.secretKeys == ["password"])
        let f = try #require(ConfigChecker.permissionFinding(c))
        #expect(f.level == .error && f.line == 2 && f.hint?.contains("chmod 600 \(path)") == true, "\(f)")
        chmod(path, 0o600)
        #expect(ConfigChecker.permissionFinding(c) == nil)
        // A DSN with a password is a secret too; one without is not.
        #expect(try ConfigurationParser.parse("repository = \"/r\"\n[[source]]\nname = \"db\"\ntype = \"postgres\"\ndsn = \"postgresql://u:pw@h/db\"\n").secretKeys == ["source[0].dsn"])
        #expect(try ConfigurationParser.parse("repository = \"/r\"\n[[source]]\nname = \"db\"\ntype = \"postgres\"\ndsn = \"postgresql://u@h/db\"\n").secretKeys.isEmpty)
    }

    @Test func configCheckCommand() async throws {
        let s = try OpsSandbox()
        try s.write("bad.toml", "repository = \"/r\"\n[[source]]\nname = \"x\"\ntype = \"directory\"\npaths = [\"/nonexistent-kura\"]\nschedule = \"61 * * * *\"\n")
        let r = try await s.kura(["config", "check", "--config", s.path("bad.toml"), "--json"])
        #expect(r.status == 1)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)\(r.err)")
        let issues = try #require(obj["issues"] as? [[String: Any]])
        #expect(issues.contains { ($0["line"] as? Int) == 6 && ($0["column"] as? Int) == 12 }, "\(issues)")
        let text = try await s.kura(["config", "check", "--config", s.path("bad.toml")])
        #expect(text.err.contains("bad.toml:6:12: source \"x\": minute 61 is out of range 0-59"), "\(text.err)")
    }
}
