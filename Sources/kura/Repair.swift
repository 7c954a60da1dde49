import ArgumentParser
import Foundation
import KuraChecker
import KuraMaintenance
import KuraRepository

struct Repair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Repair the index or snapshots after damage.",
        discussion: """
        kura repair index        rebuild the index from the pack headers (after index files were lost or damaged)
        kura repair snapshots    rewrite snapshots that refer to missing or damaged data, leaving those files out
        """,
        subcommands: [Index.self, Snapshots.self])

    struct Index: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rebuild the index from the pack headers alone.")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await runReportingErrors(json: global.json) {
                let repo = try await global.openRepository()
                let line = ProgressLine(enabled: !global.quiet && !global.json)
                let report: RepairReport
                do { report = try await Repairer(repository: repo) { line.update($0) }.repairIndex() } catch { line.finish(); throw error }
                line.finish()
                if global.json { try Terminal.json(report) } else {
                    for p in report.packsUnreadable { Terminal.printError("kura: unreadable pack left out: \(p)") }
                    if !global.quiet { print("indexed \(report.blobsIndexed) blobs from \(report.packsRead) packs; replaced \(report.indexFilesReplaced) index files") }
                }
                return report.packsUnreadable.isEmpty ? 0 : 1
            }
        }
    }

    struct Snapshots: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite snapshots that refer to missing or damaged data.",
            discussion: "Each affected snapshot is saved again without the unreadable files and folders, tagged `repaired`, with the original as parent; every removed path is listed. The original stays unless --forget is given. With --read-data, blobs that fail verification count as missing too.")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .long, help: "Remove the damaged originals after writing the repaired snapshots.") var forget = false
        @Flag(name: .long, help: "Read all data first to find damaged blobs (not only missing ones).") var readData = false
        func run() async throws {
            try await runReportingErrors(json: global.json) {
                let repo = try await global.openRepository()
                var damaged = Set<BlobID>()
                let report: RepairReport
                do {
                    if readData {
                        let check = try await Checker(repository: repo, options: CheckOptions(readData: .all)).run()
                        damaged = Set(check.problems.filter { $0.kind == "blob" || $0.kind == "tree" }.compactMap { BlobID(hex: $0.object) })
                    }
                    report = try await Repairer(repository: repo).repairSnapshots(forgetOriginals: forget, damaged: damaged)
                }
                if global.json { try Terminal.json(report) } else {
                    if report.missingPacksDropped > 0 {
                        print("the index listed \(report.missingPacksDropped) pack\(report.missingPacksDropped == 1 ? "" : "s") the storage no longer holds: dropped from the index (new backups store those chunks again)")
                    }
                    for p in report.removedPaths { print("removed \(p)") }
                    for (old, new) in report.rewritten.sorted(by: { $0.key < $1.key }) { print("snapshot \(old) → \(new) (tag: repaired)\(forget ? ", original removed" : "")") }
                    if report.rewritten.isEmpty, !global.quiet { print("no snapshot refers to missing data") }
                }
                return 0
            }
        }
    }
}
