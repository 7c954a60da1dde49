import Foundation
import KuraOperations
import Testing

@Suite("WAL configuration")
struct WALConfigurationTests {
    @Test func walKeysParse() throws {
        let c = try ConfigurationParser.parse("""
            repository = "/backup/kura"
            password-file = "/etc/kura/password"
            wal-spool = "/var/spool/kura-wal"
            wal-spool-max = "512MB"
            keep-wal = "14d"

            [[source]]
            name = "db"
            type = "postgres"
            dsn = "postgresql://backup@localhost/postgres"
            schedule = "0 17 * * *"
            wal-archive = true
            physical-schedule = "30 3 * * sun"
            """, file: "kura.toml")
        #expect(c.walSpool == "/var/spool/kura-wal" && c.walSpoolMaxBytes == 512 << 20 && c.keepWALSeconds == 14 * 86400)
        let pg = try #require(c.source(named: "db")?.postgres)
        #expect(pg.walArchive && pg.physicalSchedule?.description == "30 3 * * sun" && !pg.physical)
        #expect(ConfigurationParser.parseBytes("2GB") == 2 << 30 && ConfigurationParser.parseBytes("1.5 GiB") == 3 << 29 && ConfigurationParser.parseBytes("2 parsecs") == nil)
        let bad = #expect(throws: ConfigurationError.self) {
            try ConfigurationParser.parse("""
                repository = "/r"
                wal-spool-max = "lots"
                [[source]]
                name = "db"
                type = "postgres"
                dsn = "postgresql://x@h/postgres"
                physical-schedule = "every sunday"
                """, file: "kura.toml")
        }
        #expect(bad.map { "\($0)" }?.contains("wal-spool-max") == true && bad.map { "\($0)" }?.contains("physical-schedule") == true, "\(String(describing: bad))")
    }
}
