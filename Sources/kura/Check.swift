import ArgumentParser
import Foundation
import KuraChecker
import KuraRepository

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the repository: structure always, data with --read-data.",
        discussion: """
        Without options: every object's name against its SHA-256, every index file, every pack header against the index, every snapshot's trees, and that every chunk is indexed. --read-data also reads every pack and verifies every blob's authentication tag and SHA-256; --read-data-subset reads a part (1/7 each night covers everything in a week, or 10% at random).

        Damage is reported with the object that is damaged and the snapshots and file paths it affects. Exit code 1 when anything is damaged.
          kura check
          kura check --read-data-subset 1/7
        """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Read and verify all data.") var readData = false
    @Option(name: .long, help: ArgumentHelp("Read and verify a part of the data: N/M or P%.", valueName: "subset")) var readDataSubset: String?

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            var options = CheckOptions()
            if readData { options.readData = .all }
            if let s = readDataSubset { options.readData = try CheckOptions.DataSubset.parse(s) }  // exit 64 if malformed
            let repo = try await global.openRepository()
            let line = ProgressLine(enabled: !global.quiet && !global.json)
            let started = Date()
            let report: CheckReport
            do { report = try await Checker(repository: repo, options: options) { line.update($0) }.run() } catch { line.finish(); throw error }
            line.finish()
            if global.json {
                try Terminal.json(report)
            } else {
                for w in report.warnings { Terminal.printError("kura: warning: \(w)") }
                for p in report.problems {
                    print("DAMAGED \(p.kind) \(p.object): \(p.message)")
                    for a in p.affects { print("    affects \(a)") }
                }
                if !global.quiet || !report.isHealthy {
                    print("checked \(report.snapshots) snapshots, \(report.trees) trees, \(report.packs) packs" +
                          (options.readData != nil ? "; read \(report.packsRead) packs (\(Terminal.bytes(report.bytesRead))), verified \(report.blobsVerified) blobs" : "") +
                          String(format: " in %.2f s", Date().timeIntervalSince(started)))
                    print(report.isHealthy ? "no problems found" : "\(report.problems.count) problems found; see `kura repair --help` for what can be done")
                    for step in report.nextSteps { print("  next: \(step)") }
                }
            }
            return report.isHealthy ? 0 : 1
        }
    }
}
