import ArgumentParser
import Foundation
import KuraMaintenance
import KuraRepository

struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Free space: delete data no snapshot uses, repack partly used packs.",
        discussion: """
        Marks every blob reachable from a snapshot, deletes packs that hold none, repacks partly used packs until the unused space left is under --max-unused, and replaces the index. Takes the exclusive lock (no backups meanwhile). Crash-safe: an interrupted gc is finished by the next one. Refuses to delete anything if a snapshot cannot be read.
          kura gc --dry-run
          kura gc --max-unused 10%
        """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("Unused space allowed to remain in packs (percent of the repository).", valueName: "P%")) var maxUnused = "5%"
    @Flag(name: .long, help: "Show what would be done, change nothing.") var dryRun = false

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            _ = try GC.parsePercent(maxUnused)  // a usage error (exit 64) before asking for a password
            let repo = try await global.openRepository()
            let report = try await GC.collect(repo, maxUnused: maxUnused, dryRun: dryRun, global: global)
            GC.print(report, global: global)
            return 0
        }
    }

    static func parsePercent(_ text: String) throws -> Double {
        let t = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let v = Double(t), v.isFinite, v >= 0, v <= 100 else {
            throw KuraError(.usage, "--max-unused \(text): not a percentage; accepted values: 0% to 100% (the % sign is optional)", hint: "e.g. --max-unused 5%")
        }
        return v / 100
    }

    /// Runs gc under the exclusive lock (shared with `forget --gc`).
    static func collect(_ repo: Repository, maxUnused: String, dryRun: Bool, global: GlobalOptions) async throws -> GCReport {
        var options = GCOptions()
        options.maxUnused = try parsePercent(maxUnused)
        options.dryRun = dryRun
        let line = ProgressLine(enabled: !global.quiet && !global.json)
        defer { line.finish() }
        do {
            let report = try await GarbageCollector(repository: repo, options: options) { line.update($0) }.run()
            return report
        }
    }

    static func print(_ r: GCReport, global: GlobalOptions) {
        if global.json { try? Terminal.json(r); return }
        guard !global.quiet else { return }
        Swift.print("\(r.dryRun ? "would delete" : "deleted") \(r.packsDeleted) unused packs and \(r.orphanPacksDeleted) unindexed packs, \(r.dryRun ? "would repack" : "repacked") \(r.packsRepacked) packs into \(r.packsWritten)")
        Swift.print("blobs: \(r.blobsUsed) used, \(r.blobsRemoved) unused; snapshots: \(r.snapshots)")
        Swift.print("pack data: \(Terminal.bytes(r.bytesBefore)) → \(Terminal.bytes(r.bytesAfter)) (\(Terminal.bytes(r.bytesFreed)) \(r.dryRun ? "would be " : "")freed)")
    }
}
