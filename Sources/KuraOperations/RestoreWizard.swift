import Foundation
import KuraNotify
import KuraPostgres
import KuraRepository
import KuraRestorer

/// The interactive restore (`kura restore` on a terminal): five questions, a summary with the exact
/// equivalent command, a typed confirmation for anything in place, then the restore through
/// ``RestoreExecutor`` (the library calls of `kura restore` / `kura restore-db`).
///
/// The questions:
/// 1. what broke: a database / files or a Docker volume / everything;
/// 2. to when: that source's snapshots, newest first, with time, size, full or not, the last check
///    and a verified-restore mark (from the state file of `kura run`);
/// 3. what exactly: the whole database or some tables (from the dump's table list); the whole
///    snapshot or some paths (a filterable list);
/// 4. where: a new place (the default) or in place;
/// 5. the summary and confirmation.
///
/// All input and output goes through a ``WizardTerminal``, so the flow is tested without a terminal.
public struct RestoreWizard: Sendable {
    public let repository: Repository
    public let configuration: Configuration?
    public let state: RunState
    public let io: any WizardTerminal
    /// `--repo` for the printed commands.
    public var repositoryArgument: String?
    public var host: String
    public var now: Date = Date()
    public var timeZone: TimeZone = .current

    public init(repository: Repository, configuration: Configuration?, state: RunState, io: any WizardTerminal, host: String) {
        self.repository = repository; self.configuration = configuration; self.state = state; self.io = io; self.host = host
        if let z = configuration?.timeZone { timeZone = z }
    }

    /// The sources to offer: the configured ones, or (without a configuration) one per `source:` tag,
    /// per PostgreSQL dump series and per set of backed-up paths.
    public static func sources(configuration: Configuration?, snapshots: [Snapshot]) -> [WizardSource] {
        if let configuration, !configuration.sources.isEmpty {
            return configuration.sources.map { s in
                WizardSource(name: s.name, kind: s.kind == .postgres ? .database : .files, config: s, tag: s.tag)
            }
        }
        var out: [WizardSource] = []
        var seen = Set<String>()
        for s in snapshots.sorted(by: { $0.date > $1.date }) {
            let kind: WizardSource.Kind = s.source == "postgres" ? .database : .files
            if let tag = s.tags.first(where: { $0.hasPrefix("source:") }) {
                if seen.insert(tag).inserted { out.append(WizardSource(name: String(tag.dropFirst(7)), kind: kind, tag: tag)) }
            } else if s.source == "postgres" {
                if seen.insert("postgres").inserted { out.append(WizardSource(name: "postgres dumps", kind: .database, snapshotSource: "postgres")) }
            } else if s.source == "directory", !s.paths.isEmpty {
                let key = s.paths.joined(separator: "\n")
                if seen.insert(key).inserted { out.append(WizardSource(name: s.paths.joined(separator: ", "), kind: .files, snapshotSource: "directory", paths: s.paths)) }
            }
        }
        return out
    }

    /// Asks the questions and returns the confirmed plans (one per source; several for "everything"),
    /// or throws `.interrupted` when the operator cancels. Nothing is changed before the confirmation.
    public func ask() async throws -> [RestorePlan] {
        let snapshots = try await repository.listSnapshots()
        let all = RestoreWizard.sources(configuration: configuration, snapshots: snapshots)
        guard !all.isEmpty else {
            throw KuraError(.notFound, "the repository has no snapshot to restore", hint: "`kura snapshots` lists them; `kura run` or `kura backup` makes them")
        }
        io.line("kura restore: answer with a number; Enter takes the one in brackets; q cancels.")
        io.line("Nothing changes before the last question.")
        io.line()
        let broke = try io.choose("1. What broke?", ["a database", "files or a Docker volume", "everything"])
        let kinds: [WizardSource.Kind?] = [.database, .files, nil]
        let offered = all.filter { kinds[broke] == nil || $0.kind == kinds[broke] }
        guard !offered.isEmpty else {
            throw KuraError(.notFound, "there is no \(kinds[broke] == .database ? "database" : "files") source to restore", hint: "`kura snapshots` lists what the repository holds")
        }
        var chosen = offered
        if broke != 2 {
            let i = try io.choose("Which one?", offered.map { "\($0.name)  (\(describe($0)))" })
            chosen = [offered[i]]
        }
        var plans: [RestorePlan] = []
        for source in chosen {
            if chosen.count > 1 { io.line(); io.line("== \(source.name) ==") }
            let list = snapshots.filter(source.matches).sorted { $0.date > $1.date }
            guard !list.isEmpty else { io.line("  no snapshot of \(source.name): skipped"); continue }
            plans.append(try await plan(for: source, snapshots: list))
        }
        guard !plans.isEmpty else { throw KuraError(.notFound, "none of the chosen sources has a snapshot") }
        return plans
    }

    func describe(_ s: WizardSource) -> String {
        switch s.config?.kind {
        case .postgres?: return "PostgreSQL"
        case .dockerVolume?: return "Docker volume \(s.config!.volumes.joined(separator: ", "))"
        case .directory?: return s.config!.paths.joined(separator: ", ")
        case .command?: return "command output"
        case nil: return s.kind == .database ? "PostgreSQL dumps" : "files"
        }
    }

    func plan(for source: WizardSource, snapshots list: [Snapshot]) async throws -> RestorePlan {
        // 2. To when.
        io.line()
        let rows = list.map { row($0, source: source) }
        if source.kind == .database { try await showWALWindow(snapshots: list) }
        // The default is the newest snapshot that is not an earlier restore's safety snapshot.
        let newest = list.firstIndex { !$0.tags.contains(RestorePlan.safetyTag) } ?? 0
        let s = list[try io.choose("2. Back to when? Snapshots, newest first:", rows, default: newest)]
        var plan = RestorePlan(source: source, snapshot: s, destination: .folder(""), repository: repositoryArgument)
        let stamp = stampFormatter.string(from: s.date)
        io.line()
        switch source.kind {
        case .database:
            // 3. What exactly.
            let manifest = try await DatabaseRestorer(repository: repository, snapshot: s).manifest()
            let dbs = manifest.databases
            guard !dbs.isEmpty else { throw KuraError(.corrupt, "snapshot \(plan.id) holds no database dump") }
            let db = dbs.count == 1 ? dbs[0] : dbs[try io.choose("Which database?", dbs.map { "\($0.name)  (\($0.tables.count) tables)" })]
            plan.database = db.name
            if try io.choose("3. What exactly?", ["the whole database \(db.name)", "some tables (\(db.tables.count))"]) == 1 {
                plan.tables = try io.pick("tables", from: db.tables.map(\.display))
            }
            // 4. Where.
            io.line()
            var places = ["a new database (nothing existing is touched)"]
            if source.config != nil { places.append("in place, over \(db.name) (a safety dump of it is saved first)") }
            if try io.choose("4. Where to?", places) == 1 {
                plan.destination = .databaseInPlace
            } else {
                plan.destination = .newDatabase(try io.ask("name of the new database", default: "\(db.name)_restored_\(stamp)"))
            }
        case .files:
            if try io.choose("3. What exactly?", ["everything in the snapshot (\(s.paths.joined(separator: ", ").prefix(40)))", "some files or folders"]) == 1 {
                plan.includes = try io.pick("paths", from: try await paths(in: s))
            }
            io.line()
            var places = ["a new folder (nothing existing is touched)"]
            let canInPlace = source.config.map { $0.kind == .directory || $0.kind == .dockerVolume } ?? (s.source == "directory")
            if canInPlace { places.append("in place, where it was backed up from (a safety snapshot is taken first)") }
            if try io.choose("4. Where to?", places) == 1 {
                plan.destination = .filesInPlace
                plan.placements = try await RestorePlan.placements(of: s, repository: repository)
            } else {
                let base = FileManager.default.currentDirectoryPath
                plan.destination = .folder(try io.ask("folder to restore into", default: "\(base)/kura-restore-\(stamp)"))
            }
        }
        try confirm(plan)
        return plan
    }

    /// 5. The summary, the command, the confirmation.
    func confirm(_ plan: RestorePlan) throws {
        io.line()
        io.line("5. Summary")
        io.line("  source    \(plan.source.name)")
        io.line("  snapshot  \(plan.id) of \(timeFormatter.string(from: plan.snapshot.date))")
        let what = plan.source.kind == .database
            ? (plan.tables.isEmpty ? "the whole database \(plan.database ?? "")" : "tables \(plan.tables.joined(separator: ", "))")
            : (plan.includes.isEmpty ? "everything" : plan.includes.joined(separator: ", "))
        io.line("  what      \(what)")
        switch plan.destination {
        case .folder(let d): io.line("  where     new folder \(d)")
        case .newDatabase(let d): io.line("  where     new database \(d)")
        case .filesInPlace, .databaseInPlace:
            io.line("  where     IN PLACE, over what is there now")
            io.line("  first     a safety snapshot of what is there now, tagged \(RestorePlan.safetyTag)")
            if plan.source.config?.kind == .dockerVolume { io.line("            and the containers using the volume are stopped, then started again") }
        }
        io.line("  command   \(plan.command)")
        io.line()
        if plan.inPlace {
            let answer = try io.ask("This overwrites \(plan.source.name). Type the source name (\(plan.source.name)) to go ahead", default: nil)
            guard answer == plan.source.name else {
                throw KuraError(.interrupted, "not confirmed: the restore was cancelled", hint: "nothing was changed; type the source name exactly to confirm")
            }
        } else {
            let answer = try io.ask("Go ahead? (y/n)", default: "y").lowercased()
            guard answer == "y" || answer == "yes" else { throw KuraError(.interrupted, "the restore was cancelled", hint: "nothing was changed") }
        }
    }

    /// With WAL archived in the repository (`wal-push`): the window a point-in-time restore covers,
    /// and its command (physical, so it is not one of the wizard's own choices).
    func showWALWindow(snapshots: [Snapshot]) async throws {
        guard let wal = try? await WALInspector(repository: repository).status(), wal.segments > 0,
              let last = wal.lastArchived.flatMap(Timestamp.parse) else { return }
        let all = (try? await repository.listSnapshots()) ?? snapshots
        let from = wal.oldestBaseSnapshot.flatMap { id in all.first { $0.id?.hex == id } }.map { timeFormatter.string(from: $0.date) }
        io.line("WAL is archived \(from.map { "from \($0) " } ?? "")to \(timeFormatter.string(from: last))\(wal.continuous ? "" : " (with gaps)"); any time")
        io.line("in it: kura restore-physical latest --target DIR --to-time 'YYYY-MM-DD HH:MM'")
    }

    /// One line per snapshot (fits 80 columns with the menu number).
    func row(_ s: Snapshot, source: WizardSource) -> String {
        let size = s.summary.map { ReportFormat.bytes($0.totalBytes) } ?? "?"
        let full = s.tags.contains("full") || s.parent == nil ? "full" : "incr"
        var marks: [String] = []
        if s.tags.contains(RestorePlan.safetyTag) { marks.append("safety") }
        let st = state.sources[source.config?.name ?? source.name]
        if let checked = st?.lastCheck, checked >= s.date, let r = st?.lastCheckResult {
            marks.append(r.hasPrefix("ok") ? "checked ok" : "CHECK FAILED")
        }
        if let v = st?.lastVerifyRestoreResult, v.hasPrefix("ok"), let id = s.id?.short, v.contains(String(id.prefix(8))) {
            marks.append("verified restore")
        }
        if s.incomplete { marks.append("incomplete") }
        let time = timeFormatter.string(from: s.date)
        return "\(time)  \(s.id?.short ?? "")  \(size.padding(toLength: 10, withPad: " ", startingAt: 0)) \(full)  \(marks.joined(separator: ", "))"
    }

    /// Files and folders of a snapshot for the picker (at most 20 000, in name order).
    func paths(in s: Snapshot) async throws -> [String] {
        let browser = SnapshotBrowser(repository: repository, snapshot: s)
        var out: [String] = []
        try await browser.walk(try await browser.entry(at: [47])) { e in
            out.append(String(decoding: e.path, as: UTF8.self) + (e.isDirectory ? "/" : ""))
            return out.count < 20_000
        }
        // Folders that hold a backed-up path are not worth picking alone: keep the paths and below.
        let roots = s.paths
        return out.filter { p in roots.contains { p.hasPrefix($0 + "/") || p == $0 + "/" } }
            .map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    var timeFormatter: DateFormatter {
        let f = DateFormatter(); f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = timeZone; f.dateFormat = "yyyy-MM-dd HH:mm"
        return f
    }
    var stampFormatter: DateFormatter {
        let f = DateFormatter(); f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = timeZone; f.dateFormat = "yyyyMMdd_HHmm"
        return f
    }
}
