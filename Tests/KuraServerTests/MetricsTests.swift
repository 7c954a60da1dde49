import Foundation
@testable import KuraOperations
import KuraRepository
@testable import KuraServer
import KuraTestSupport
import Testing

/// The metrics text, read back by Prometheus' reference parser (Python's prometheus_client), from the
/// library renderer and from `kura run --textfile` (the file node_exporter's textfile collector reads).
@Suite(.serialized) struct MetricsTests {
    /// Families as prometheus_client parsed them.
    func parse(_ path: String) throws -> [String: [String: Any]] {
        let r = try TestProcess.command(["python3", TestOutput.script("parse_metrics.py"), path])
        guard r.status == 0 else { throw FixtureError(description: "prometheus_client could not parse \(path): \(r.err)") }
        return try JSONSerialization.jsonObject(with: r.stdout) as! [String: [String: Any]]
    }

    func value(_ families: [String: [String: Any]], _ name: String, source: String? = nil) -> Double? {
        let samples = families[name]?["samples"] as? [[String: Any]] ?? []
        return (samples.first { source == nil || ($0["labels"] as? [String: String])?["source"] == source }?["value"] as? NSNumber)?.doubleValue
    }

    @Test func theRendererIsValidPrometheusText() async throws {
        let fixture = try await ServeFixture()
        let o = await ServeFixture.runner(fixture.config).overview(repository: try await fixture.openRepository())
        let text = MetricsText.render(o)
        let path = fixture.root + "/metrics.prom"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let f = try parse(path)

        for name in ["kura_source_last_success_timestamp_seconds", "kura_source_last_run_success", "kura_source_bytes_added",
                     "kura_repository_stored_bytes", "kura_check_success", "kura_verify_restore_success", "kura_repository_free_bytes",
                     "kura_source_late", "kura_healthy"] {
            #expect(f[name]?["type"] as? String == "gauge", "\(name) missing or not a gauge")
            let help = (f[name]?["help"] as? String) ?? ""
            #expect(help.isEmpty == false, "\(name) has no HELP")
        }
        let lastSuccess = try #require(value(f, "kura_source_last_success_timestamp_seconds", source: "files"))
        #expect(abs(lastSuccess - (o.sources[0].status.lastSuccess?.timeIntervalSince1970 ?? 0)) < 1)
        #expect(value(f, "kura_source_last_success_timestamp_seconds", source: "idle") == 0, "never succeeded: 0, so age alerts fire")
        #expect(value(f, "kura_source_last_run_success", source: "files") == 1)
        #expect(value(f, "kura_source_last_run_success", source: "broken") == 0)
        #expect(value(f, "kura_source_last_run_success", source: "idle") == nil, "never ran: no sample")
        #expect(value(f, "kura_source_late", source: "idle") == 1)
        #expect(value(f, "kura_source_late", source: "files") == 0)
        #expect(value(f, "kura_verify_restore_success", source: "files") == 1)
        #expect((value(f, "kura_source_bytes_added", source: "files") ?? 0) > 0)
        #expect(value(f, "kura_repository_stored_bytes") == Double(o.storage.storedBytes ?? 0))
        #expect((value(f, "kura_repository_free_bytes") ?? 0) > 0)
        #expect(value(f, "kura_healthy") == 0)
        // The offsite target: its copy succeeded, and the lag is the age of the newest copied snapshot.
        let offsite = (f["kura_offsite_lag_seconds"]?["samples"] as? [[String: Any]])?.first
        #expect((offsite?["labels"] as? [String: String]) == ["source": "files", "target": fixture.root + "/offsite"])
        #expect(((offsite?["value"] as? NSNumber)?.doubleValue ?? -1) >= 0)
        #expect(value(f, "kura_offsite_last_copy_success", source: "files") == 1)
        // Low cardinality: the only labels are the source and the offsite target.
        for (_, family) in f {
            for s in family["samples"] as! [[String: Any]] {
                #expect(Set((s["labels"] as! [String: String]).keys).isSubset(of: ["source", "target"]))
            }
        }
    }

    /// Three days later without a run, the daily source is late, since its last success plus one day
    /// plus the default grace of an hour.
    @Test func aSourceThatStoppedIsLate() async throws {
        let fixture = try await ServeFixture()
        let now = Date()
        let later = await ServeFixture.runner(fixture.config, clock: now.addingTimeInterval(3 * 86_400))
            .overview(repository: try await fixture.openRepository())
        let path = fixture.root + "/later.prom"
        try Data(MetricsText.render(later).utf8).write(to: URL(fileURLWithPath: path))
        let f = try parse(path)
        #expect(value(f, "kura_source_late", source: "files") == 1)
        let lastSuccess = try #require(later.sources.first { $0.status.name == "files" }?.status.lastSuccess)
        let since = try #require(value(f, "kura_source_late_since_timestamp_seconds", source: "files"))
        #expect(abs(since - (lastSuccess.timeIntervalSince1970 + 86_400 + 3_600)) < 1)
        #expect(value(f, "kura_source_late_since_timestamp_seconds", source: "idle") == nil, "never succeeded: late, but since no time")
    }

    /// A postgres source that archives WAL gets the WAL figures (from the repository's archive; here an
    /// empty one: nothing archived, no base backup, so not continuous), on the page and as metrics.
    @Test func walArchivingSourcesShowTheirArchive() async throws {
        let fixture = try await ServeFixture()
        var config = fixture.config
        var db = SourceConfig(name: "pg", kind: .postgres)
        var settings = PostgresSettings(dsn: "host=/nonexistent dbname=postgres")
        settings.walArchive = true
        db.postgres = settings
        config.sources.append(db)
        let o = await ServeFixture.runner(config).overview(repository: try await fixture.openRepository())
        let path = fixture.root + "/wal.prom"
        try Data(MetricsText.render(o).utf8).write(to: URL(fileURLWithPath: path))
        let f = try parse(path)
        #expect(value(f, "kura_wal_continuous", source: "pg") == 0)
        #expect(value(f, "kura_wal_gaps", source: "pg") == 0)
        #expect(value(f, "kura_wal_continuous", source: "files") == nil, "only sources that archive WAL")
        let page = HTMLPages.overview(o, zone: config.timeZone)
        #expect(page.contains("<th>WAL</th>") && page.contains("nothing archived · <span class=\"bad\">no base backup</span>"))
    }

    @Test func labelValuesAreEscaped() throws {
        #expect(MetricsText.escapeLabel("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
        #expect(MetricsText.format(3) == "3")
        #expect(MetricsText.format(0.5) == "0.5")
    }

    /// `kura run --textfile`: the file appears at the end of the run, atomically (no temporary file left),
    /// readable by node_exporter (0644), and parses; the configuration key does the same.
    @Test func kuraRunWritesTheTextfile() async throws {
        let fixture = try await ServeFixture()
        let out = fixture.root + "/textfile"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let path = out + "/kura.prom"
        let r = try await TestProcess.run(KuraBinary.url, ["run", "files", "--config", fixture.configPath, "--textfile", path], environment: fixture.processEnvironment)
        #expect(r.status == 0, "\(r)")
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["kura.prom"], "no temporary file left")
        let f = try parse(path)
        #expect(value(f, "kura_source_last_run_success", source: "files") == 1)
        #expect(value(f, "kura_source_snapshots", source: "files") == 5)
        let generated = try #require(value(f, "kura_metrics_generated_timestamp_seconds"))
        #expect(abs(generated - Date().timeIntervalSince1970) < 300)

        // A textfile in a folder that does not exist: the run's result stands, the failure is said.
        let bad = try await TestProcess.run(KuraBinary.url, ["run", "files", "--config", fixture.configPath, "--textfile", fixture.root + "/missing/kura.prom"],
                                            environment: fixture.processEnvironment)
        #expect(bad.status == 0, "\(bad)")
        #expect(bad.err.contains("metrics textfile was not written"), "\(bad)")
    }

    /// `kura config check` says whether the textfile's folder can be written.
    @Test func configCheckLooksAtTheTextfileFolder() async throws {
        let fixture = try await ServeFixture()
        for (folder, level) in [(fixture.root, "ok"), (fixture.root + "/missing", "error")] {
            var config = fixture.config
            config.metricsTextfile = folder + "/kura.prom"
            var checker = ConfigChecker(config: config, environment: ServeFixture.environment())
            checker.testNotifications = false
            checker.testRepository = false
            let findings = await checker.run()
            #expect(findings.first { $0.subject == "metrics-textfile" }?.level.rawValue == level, "\(folder): \(findings)")
        }
    }

    @Test func theConfigurationKeyIsChecked() throws {
        let folder = try TemporaryFolder("kura-serve-config")
        func parse(_ value: String) throws -> Configuration {
            try ConfigurationParser.parse("""
            repository = "/tmp/r"
            metrics-textfile = "\(value)"
            [[source]]
            name = "a"
            type = "directory"
            paths = ["\(folder.path)"]
            """)
        }
        #expect(try parse("/var/lib/node-exporter/kura.prom").metricsTextfile == "/var/lib/node-exporter/kura.prom")
        #expect(throws: (any Error).self) { try parse("relative/kura.prom") }
        #expect(throws: (any Error).self) { try parse("/var/lib/kura.txt") }
    }
}
