import ArgumentParser
import KuraOperations
import KuraPostgres
import Foundation
import KuraMaintenance
import KuraRepository

struct Forget: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove snapshots by a retention policy (or by id); --gc frees their data.",
        discussion: """
        Snapshots are grouped by host and paths (--group-by) and each group is judged on its own, exactly as restic's forget does: each --keep-* rule keeps the newest snapshot of each hour/day/week/month/year (local time) until its count is used, -1 means unlimited (`--keep-last -1` and `--keep-last=-1` both work), and a snapshot kept by any rule stays. --dry-run shows what is kept and by which rule.
          kura forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
          kura forget --keep-within 14d --keep-tag important --gc
          kura forget 1a2b3c4d
        Removing a snapshot frees no space by itself: run `kura gc` (or pass --gc).
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Snapshot ids to remove (instead of a policy).") var snapshots: [String] = []
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Keep the n newest snapshots.", valueName: "n")) var keepLast = 0
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Keep the newest snapshot of each of the last n hours.", valueName: "n")) var keepHourly = 0
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("… of each of the last n days.", valueName: "n")) var keepDaily = 0
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("… of each of the last n weeks (ISO weeks).", valueName: "n")) var keepWeekly = 0
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("… of each of the last n months.", valueName: "n")) var keepMonthly = 0
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("… of each of the last n years.", valueName: "n")) var keepYearly = 0
    @Option(name: .long, help: ArgumentHelp("Keep snapshots newer than this before the newest one (e.g. 14d, 1y6m, 2d12h).", valueName: "duration"))
    var keepWithin: String?
    @Option(name: .long, help: ArgumentHelp("Keep snapshots with these tags (comma: all of them; repeatable).", valueName: "tags")) var keepTag: [String] = []
    @Option(name: .long, help: ArgumentHelp("Group by a list of host, paths, tags.", valueName: "list")) var groupBy = "host,paths"
    @Option(name: .long, help: ArgumentHelp("Only snapshots of this host.", valueName: "name")) var host: String?
    @Flag(name: .long, help: "Show what would be removed, change nothing.") var dryRun = false
    @Flag(name: .long, help: "Run gc right after (frees the space).") var gc = false
    @Option(name: .long, help: ArgumentHelp("Archived PostgreSQL WAL: keep what point-in-time recovery to any moment of this window needs (e.g. 14d); default: what the oldest kept physical base backup needs.", valueName: "duration")) var keepWal: String?
    @Option(name: .long, help: ArgumentHelp("For --gc: unused space allowed to remain.", valueName: "P%")) var maxUnused = "5%"

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            if gc { _ = try GC.parsePercent(maxUnused) }  // a usage error (exit 64) before asking for a password
            let walWindow = try keepWal.map { text -> Double in
                guard let s = ConfigurationParser.seconds(text) else { throw KuraError(.usage, "--keep-wal \(text): not a duration", hint: "e.g. 14d, 36h") }
                return s
            }
            let repo = try await global.openRepository()
            var groups: [ForgetGroup] = []
            do {
                if !snapshots.isEmpty {
                    var ids: [String] = []
                    // Resolved from the listing alone, so that a damaged snapshot can be removed too.
                    for ref in snapshots { ids.append(try await repo.resolveSnapshotID(ref).hex) }
                    if !dryRun { try await Forgetter(repository: repo).delete(ids) }
                    groups = [ForgetGroup(group: "by id", keep: [], remove: ids.map { .init(id: $0, time: "") })]
                } else {
                    var policy = RetentionPolicy(last: keepLast, hourly: keepHourly, daily: keepDaily, weekly: keepWeekly,
                                                 monthly: keepMonthly, yearly: keepYearly)
                    if let w = keepWithin {
                        do { policy.within = try RetentionPolicy.parseDuration(w) } catch {
                            throw KuraError(.invalidArgument, "--keep-within \(w): \(error)", hint: "e.g. 14d, 1y6m, 2d12h")
                        }
                    }
                    policy.tags = keepTag.map { RetentionPolicy.parseTagList($0) }
                    groups = try await Forgetter(repository: repo).run(policy: policy, grouping: try SnapshotGrouping.parse(groupBy),
                                                                       host: host, dryRun: dryRun)
                }
            }
            // WAL retention: what no kept base backup needs (WAL objects are not packs: gc never frees them).
            let walRemoved = try await WALInspector(repository: repo).applyRetention(keepWAL: walWindow, dryRun: dryRun)
            var gcReport: GCReport?
            if gc, !dryRun { gcReport = try await GC.collect(repo, maxUnused: maxUnused, dryRun: false, global: global) }
            if global.json {
                struct Out: Encodable { var groups: [ForgetGroup]; var dryRun: Bool; var gc: GCReport?; var walRemoved: [String] }
                try Terminal.json(Out(groups: groups, dryRun: dryRun, gc: gcReport, walRemoved: walRemoved))
                return 0
            }
            if !global.quiet {
                for g in groups {
                    print("group \(g.group.isEmpty ? "(all)" : g.group)")
                    for k in g.keep { print("  keep    \(k.id.prefix(8))  \(k.time.prefix(19))  \(k.reasons.joined(separator: ", "))") }
                    for r in g.remove { print("  \(dryRun ? "would remove" : "remove") \(r.id.prefix(8))  \(r.time.prefix(19))") }
                }
                let removed = groups.reduce(0) { $0 + $1.remove.count }
                print("\(dryRun ? "would remove" : "removed") \(removed) snapshots\(gc || dryRun ? "" : "; run `kura gc` to free their data")")
                if !walRemoved.isEmpty { print("\(dryRun ? "would remove" : "removed") \(walRemoved.count) archived WAL file(s) that no kept base backup needs (\(walRemoved.first!) … \(walRemoved.last!))") }
                if let gcReport { GC.print(gcReport, global: global) }
            }
            return 0
        }
    }
}
