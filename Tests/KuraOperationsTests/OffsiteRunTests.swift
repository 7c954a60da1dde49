import Foundation
import KuraChunker
import KuraOperations
import KuraRepository
import KuraStore
import KuraTestSupport
import Testing

/// The nightly offsite step: `offsite` and `offsite-keep` in kura.toml, against a second local
/// repository and the loopback S3 server (signatures checked), including a target that fails one night
/// and catches up the next.
@Suite struct OffsiteRunTests {
    /// Creates a repository at `location` with the sandbox's chunker parameters and secret.
    func initTarget(_ location: String, password: String, environment: [String: String], source s: OpsSandbox) async throws {
        let sourceRepo = try await s.openRepository()
        var options = InitOptions()
        options.kdfCost = (n: 1 << 10, r: 8, p: 1)
        options.chunker = sourceRepo.config.chunkerParameters
        options.chunkerKey = sourceRepo.chunkerSecret
        options.packSize = 1 << 20
        let store = try StoreFactory.open(location, create: true, options: StoreOptions(s3: S3Options(environment: environment)))
        _ = try await Repository.initialize(store: store, password: Array(password.utf8), options: options)
    }

    @Test func eachRunCopiesToEveryTargetAppliesOffsiteKeepAndReportsTheLag() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let server = try S3TestServer.shared
        let s3Location = server.location(prefix: S3TestServer.uniquePrefix("offsite"))
        let local = s.path("offsite-local")
        try Data("offsite-password-9x\n".utf8).write(to: URL(fileURLWithPath: s.path("offsite-pw")))
        chmod(s.path("offsite-pw"), 0o600)
        try await initTarget(s3Location, password: "offsite-password-9x", environment: S3TestServer.environment, source: s)
        try await initTarget(local, password: s.password, environment: [:], source: s)
        let config = try s.writeConfig(s.header + """
            [[offsite]]
            name = "s3"
            repository = "\(s3Location)"
            password-file = "\(s.path("offsite-pw"))"
            verify-data = true

            [[source]]
            name = "files"
            type = "directory"
            paths = ["\(s.path("src"))"]
            keep = { last = 3 }
            offsite = ["s3", "\(local)"]
            offsite-keep = { last = 2 }
            schedule = "0 2 * * *"
            """ + s.sendmailChannel)
        #expect(config.offsite.map(\.name) == ["s3", local])
        var env = s.environment
        for (k, v) in S3TestServer.environment { env.variables[k] = v }
        let runner = Runner(config: config, environment: env, logger: quietLogger)

        var snapshotIDs: [String] = []
        for night in 0..<3 {
            try s.write("src/night-\(night).txt", String(repeating: "night \(night) ", count: 5000))
            let outcome = try await runner.run(RunRequest(sources: ["files"]))
            let report = try #require(outcome.results.first?.report)
            #expect(report.success, "\(report.error ?? "")")
            snapshotIDs.append(try #require(report.snapshotID))
            #expect(report.offsite.map(\.target) == ["s3", local])
            for o in report.offsite {
                #expect(o.success && o.snapshotsCopied == 1 && o.behind == 0, "\(o)")
                #expect(o.newestCopied == report.snapshotID)
                #expect(o.retained == min(night + 1, 2) && o.removed == (night == 2 ? 1 : 0), "\(o)")
            }
            if night > 0 { #expect(report.offsite[0].bytesCopied < 60_000, "only the new file is sent: \(report.offsite[0].bytesCopied)") }
        }

        // The S3 target, opened independently: the two newest snapshots, copies of the local ones, restorable.
        let target = try await Repository.open(
            store: try StoreFactory.open(s3Location, options: StoreOptions(s3: S3Options(environment: S3TestServer.environment))),
            password: Array("offsite-password-9x".utf8))
        let copies = try await target.listSnapshots()
        #expect(copies.map(\.copiedFrom) == Array(snapshotIDs.suffix(2)), "offsite-keep last = 2")
        #expect(copies.allSatisfy { $0.tags.contains("source:files") })

        // The report mail names the targets; status shows them with no lag in snapshots.
        #expect(s.messages.last?.contains("offsite") == true, "\(s.messages.last ?? "")")
        let status = await runner.status()
        let offsite = try #require(status.sources.first?.offsite)
        #expect(offsite.map(\.target) == ["s3", local])
        #expect(offsite.allSatisfy { $0.lastResult == "success" && $0.behind == 0 && $0.newestCopied == snapshotIDs.last && ($0.lagSeconds ?? -1) >= 0 })
        #expect(status.healthy, "\(status.problems)")
    }

    @Test func aTargetThatFailsOneNightCatchesUpTheNext() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let target = s.path("offsite")
        try await initTarget(target, password: s.password, environment: [:], source: s)
        let config = try s.writeConfig(s.header + """
            [[source]]
            name = "files"
            type = "directory"
            paths = ["\(s.path("src"))"]
            offsite = "\(target)"
            """)
        let runner = Runner(config: config, environment: s.environment, logger: quietLogger)
        try s.write("src/a.txt", "first night\n")
        let first = try await runner.run(RunRequest())
        #expect(first.exitCode == 0 && first.results.first?.report.offsite.first?.success == true)

        // The target disappears (an unmounted disk): the source fails with the offsite step, the local
        // snapshot is saved and named as safe, and status says how far behind the target is.
        try FileManager.default.moveItem(atPath: target, toPath: target + ".away")
        try s.write("src/b.txt", "second night\n")
        let second = try await runner.run(RunRequest())
        let failed = try #require(second.results.first?.report)
        #expect(second.exitCode == 1 && !failed.success)
        #expect(failed.error?.hasPrefix("offsite \(target): the copy to offsite target") == true, "\(failed.error ?? "")")
        #expect(failed.snapshotID != nil && failed.lastGoodSnapshot == failed.snapshotID, "the local snapshot is safe")
        #expect(failed.nextStep?.contains("the local snapshot is safe") == true, "\(failed.nextStep ?? "")")
        #expect(failed.offsite.first?.behind == 1 && failed.offsite.first?.newestCopied == first.results.first?.report.snapshotID)
        var status = await runner.status()
        #expect(status.sources.first?.offsite.first?.lastResult == "failure" && status.sources.first?.offsite.first?.behind == 1)
        #expect(status.problems.contains { $0.contains("offsite") }, "\(status.problems)")
        // `kura config check` says so too, pointing at the target.
        var checker = ConfigChecker(config: config, environment: s.environment)
        checker.testNotifications = false
        let findings = await checker.run()
        #expect(findings.contains { $0.subject == "offsite \(target)" && $0.level == .error && $0.message.contains("no kura repository at the offsite target") },
                "\(findings.filter { $0.subject.hasPrefix("offsite") })")

        // Back the next night: both missing snapshots go over, nothing is behind.
        try FileManager.default.moveItem(atPath: target + ".away", toPath: target)
        try s.write("src/c.txt", "third night\n")
        let third = try await runner.run(RunRequest())
        let o = try #require(third.results.first?.report.offsite.first)
        #expect(third.exitCode == 0 && o.success && o.snapshotsCopied == 2 && o.snapshotsSkipped == 1 && o.behind == 0, "\(o)")
        status = await runner.status()
        #expect(status.healthy && status.sources.first?.offsite.first?.behind == 0, "\(status.problems)")
        #expect(await checker.run().contains { $0.subject == "offsite \(target)" && $0.level == .ok })
    }

    @Test func configurationErrorsNameTheOffsiteKey() throws {
        let s = try OpsSandbox()
        func problems(_ body: String) -> String {
            do { _ = try s.writeConfig(s.header + body); return "" } catch { return "\(error)" }
        }
        let unknown = problems("""
            [[source]]
            name = "files"
            type = "directory"
            paths = ["/srv"]
            offsite = "nas"
            """)
        #expect(unknown.contains("there is no [[offsite]] named \"nas\""), "\(unknown)")
        let keepWithout = problems("""
            [[source]]
            name = "files"
            type = "directory"
            paths = ["/srv"]
            offsite-keep = { daily = 7 }
            """)
        #expect(keepWithout.contains("offsite-keep but no offsite target"), "\(keepWithout)")
        let relative = problems("""
            [[offsite]]
            name = "nas"
            repository = "backup/kura"

            [[source]]
            name = "files"
            type = "directory"
            paths = ["/srv"]
            offsite = "nas"
            """)
        #expect(relative.contains("must be an absolute path"), "\(relative)")
    }
}
