import Foundation
import KuraOperations
import KuraRepository
import Testing
import KuraTestSupport

@Suite("postgres source with WAL archiving", .enabled(if: ThrowawayPostgres.available, "needs PostgreSQL server binaries and a postgres user"))
struct WALSourceTests {
    /// `physical-schedule`: the first run takes a base backup (none yet), the second in the same slot does
    /// not; `status` shows the WAL archive; `config check` says exactly how to turn archiving on.
    @Test func physicalScheduleStatusAndConfigCheck() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let pg = ThrowawayPostgres(in: s.root)
        try await pg.start(s.root)
        let config = try s.writeConfig(s.header + """
        [[source]]
        name = "db"
        type = "postgres"
        dsn = "\(pg.dsn)"
        wal-archive = true
        physical-schedule = "0 0 * * *"
        """)
        let runner = Runner(config: config, environment: s.environment, logger: quietLogger)
        let first = try #require(try await runner.run(RunRequest()).results.first?.report)
        #expect(first.success, "\(first.error ?? "")")
        let repo = try await s.openRepository()
        #expect(try await repo.listSnapshots().filter { $0.source == "postgres-physical" }.count == 1)
        let second = try #require(try await runner.run(RunRequest()).results.first?.report)
        #expect(second.success, "\(second.error ?? "")")
        #expect(try await repo.listSnapshots().filter { $0.source == "postgres-physical" }.count == 1, "the schedule has not fired again")
        #expect(try await repo.listSnapshots().filter { $0.source == "postgres" }.count == 2)

        let status = await runner.status()
        let wal = try #require(status.sources.first?.wal)
        #expect(wal.baseBackups == 1 && wal.oldestBaseStartWAL?.count == 24 && wal.files == 0, "\(wal)")

        // A gap in the archived WAL (a segment after the base backup's first is there, the first is not)
        // shows in the next run's report and makes status unhealthy.
        let start = try #require(wal.oldestBaseStartWAL)
        let later = String(start.prefix(16)) + String(format: "%08X", (UInt32(start.suffix(8), radix: 16) ?? 0) + 2)
        try await repo.putWALFile(name: later, contents: [UInt8](repeating: 7, count: 4096))
        let third = try #require(try await runner.run(RunRequest()).results.first?.report)
        #expect(third.warnings.contains { $0.contains("the archived WAL has a gap of 2 segment(s), \(start)") }, "\(third.warnings)")
        let unhealthy = await runner.status()
        #expect(!unhealthy.healthy && unhealthy.problems.contains { $0.contains("gap") }, "\(unhealthy.problems)")

        var checker = ConfigChecker(config: config, environment: s.environment)
        checker.testNotifications = false
        let findings = await checker.run()
        #expect(findings.contains { $0.message.hasPrefix("archive_mode is off") && $0.hint?.contains("archive_mode = on") == true }, "\(findings)")
        #expect(findings.contains { $0.hint?.contains("archive_command = 'kura wal-push --config \(config.path) %p'") == true }, "\(findings)")
        #expect(findings.contains { $0.message == "wal_level = replica" })
        await pg.stop()
    }
}
