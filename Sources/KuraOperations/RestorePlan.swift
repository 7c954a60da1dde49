import Foundation
import KuraArchiver
import KuraPostgres
import KuraRepository
import KuraRestorer
import Logging

/// Something to restore, as the wizard offers it: a configured source, or (without a configuration)
/// a group of snapshots that belong together.
public struct WizardSource: Sendable {
    public enum Kind: String, Sendable { case database, files }
    public var name: String
    public var kind: Kind
    /// The source in kura.toml, when there is one (needed for an in-place database restore and for
    /// stopping a Docker volume's containers).
    public var config: SourceConfig?
    /// The tag its snapshots carry (`source:NAME`), if any.
    public var tag: String?
    /// Without a tag: the snapshot source kind and paths that identify its snapshots.
    public var snapshotSource: String?
    public var paths: [String]?

    /// Whether `snapshot` belongs to this source.
    public func matches(_ snapshot: Snapshot) -> Bool {
        if let tag { return snapshot.tags.contains(tag) }
        if snapshot.tags.contains(where: { $0.hasPrefix("source:") }) { return false }
        if let snapshotSource, snapshot.source != snapshotSource { return false }
        if let paths { return snapshot.paths == paths }
        return true
    }
}

/// One restore, fully decided: what the wizard's summary shows and what ``RestoreExecutor`` runs.
public struct RestorePlan: Sendable {
    public enum Destination: Sendable, Equatable {
        /// Files restored under this folder (absolute paths recreated below it).
        case folder(String)
        /// Files put back where they were backed up from (target `/`), after a safety snapshot.
        case filesInPlace
        /// A new database with this name (created).
        case newDatabase(String)
        /// Over the database it came from, after a safety snapshot.
        case databaseInPlace
    }
    public var source: WizardSource
    public var snapshot: Snapshot
    /// Files: `--include` patterns (absolute paths); empty restores everything.
    public var includes: [String] = []
    /// Databases: the database inside the snapshot, and the tables (empty: all).
    public var database: String?
    public var tables: [String] = []
    public var destination: Destination
    /// `--repo LOCATION` for the printed commands (nil leaves it out).
    public var repository: String?

    public var inPlace: Bool { destination == .filesInPlace || destination == .databaseInPlace }
    var id: String { snapshot.id?.short ?? "latest" }

    /// In place: each backed-up path and the folder it is restored into (a folder into itself, a
    /// file into its parent), filled by ``placements(of:repository:)``.
    public var placements: [Placement] = []
    public struct Placement: Sendable, Equatable {
        public var path: String
        public var target: String
    }

    /// Where each of the snapshot's paths goes back to: a folder restores into itself, a file into
    /// its folder. (Restoring the whole snapshot into `/` would also rewrite the metadata of every
    /// folder above the backed-up paths.)
    public static func placements(of snapshot: Snapshot, repository: Repository) async throws -> [Placement] {
        let browser = SnapshotBrowser(repository: repository, snapshot: snapshot)
        var out: [Placement] = []
        for p in snapshot.paths {
            let entry = try await browser.entry(at: Array(p.utf8))
            out.append(Placement(path: p, target: entry.isDirectory ? p : (p as NSString).deletingLastPathComponent))
        }
        return out
    }

    /// The restore itself as `kura` argument lists, one per command (the same library calls the
    /// commands make); in place, one `restore SNAP:PATH --target PATH` per backed-up path.
    public var argumentLists: [[String]] {
        var lists: [[String]]
        switch destination {
        case .folder(let dir): lists = [["restore", id, "--target", dir] + includes.flatMap { ["--include", $0] }]
        case .filesInPlace:
            lists = placements.map { ["restore", "\(id):\($0.path)", "--target", $0.target] + includes.flatMap { ["--include", $0] } }
        case .newDatabase(let name):
            lists = [["restore-db", id + (database.map { ":" + $0 } ?? ""), "--into", name, "--create"] + tables.flatMap { ["--table", $0] }]
        case .databaseInPlace:
            lists = [["restore-db", id + (database.map { ":" + $0 } ?? ""), "--into", database ?? "", "--clean"]
                + (tables.isEmpty ? ["--create"] : tables.flatMap { ["--table", $0] })]
        }
        if let repository { lists = lists.map { $0 + ["--repo", repository] } }
        return lists
    }

    /// The equivalent non-interactive command line(s), shell-quoted, joined by `&&`.
    public var command: String {
        argumentLists.map { "kura " + $0.map(RestorePlan.quote).joined(separator: " ") }.joined(separator: " && ")
    }

    /// The safety snapshot's tags: the source's own (so it is listed with the source) and a marker.
    public static let safetyTag = "before-restore"

    static func quote(_ s: String) -> String {
        if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./:=@,+".contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// What a wizard restore did.
public struct RestoreOutcome: Sendable {
    public var summary: String
    public var seconds: Double
    /// The safety snapshot taken first (in place only).
    public var safetySnapshot: String?
    /// How to check the result, and how to undo it.
    public var checkHint: String
    public var undoHint: String?
    public var errors: [String] = []
    public var warnings: [String] = []
}

/// Carries out a ``RestorePlan`` with the same library calls `kura restore` and `kura restore-db` make
/// (``Restorer``, ``DatabaseRestorer``); in place it first saves a safety snapshot (``SourceBackup``
/// for a configured source, like `kura run`; otherwise a plain backup of the snapshot's paths) and
/// stops the containers that use a Docker volume for the duration.
public struct RestoreExecutor: Sendable {
    public let repository: Repository
    public let configuration: Configuration?
    public let host: String
    public var logger = Logger(label: "kura.restore-wizard")

    public init(repository: Repository, configuration: Configuration?, host: String) {
        self.repository = repository; self.configuration = configuration; self.host = host
    }

    public func run(_ plan: RestorePlan, progress: @escaping @Sendable (String) -> Void) async throws -> RestoreOutcome {
        let started = Date()
        var safety: Snapshot?
        if plan.inPlace {
            progress("taking a safety snapshot of what is there now…")
            safety = try await safetySnapshot(plan)
        }
        let containers = plan.destination == .filesInPlace ? try await stopContainers(plan) : []
        var outcome: RestoreOutcome
        do {
            outcome = try await restore(plan, progress: progress)
        } catch {
            let problems = await start(containers)
            if !problems.isEmpty { throw KuraError(.fatal, "\(KuraError.from(error).message); and containers could not be restarted: \(problems.joined(separator: "; "))", hint: "start them by hand: docker start NAME") }
            throw error
        }
        outcome.warnings += await start(containers).map { "container could not be restarted: \($0)" }
        if !containers.isEmpty { outcome.summary += "; stopped and restarted \(containers.map(\.name).joined(separator: ", "))" }
        outcome.seconds = Date().timeIntervalSince(started)
        if let safety, let id = safety.id?.short {
            outcome.safetySnapshot = id
            var undo = plan
            undo.snapshot = safety
            undo.includes = []
            undo.tables = plan.tables
            if plan.destination == .filesInPlace { undo.placements = (try? await RestorePlan.placements(of: safety, repository: repository)) ?? [] }
            outcome.undoHint = "to undo, restore the safety snapshot \(id): \(undo.command)"
        }
        return outcome
    }

    func restore(_ plan: RestorePlan, progress: @escaping @Sendable (String) -> Void) async throws -> RestoreOutcome {
        switch plan.destination {
        case .folder(let dir):
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let r = try await restoreFiles(plan, from: "/", into: dir, progress: progress)
            let paths = plan.snapshot.paths.map { (dir as NSString).appendingPathComponent(String($0.drop { $0 == "/" })) }  // no "//"
            return RestoreOutcome(summary: "restored \(r.files) files, \(r.directories) folders, \(r.bytes) bytes from snapshot \(plan.id) into \(dir)",
                                  seconds: 0, checkHint: "look at \(paths.joined(separator: ", ")); list the snapshot with `kura ls \(plan.id)`",
                                  errors: r.errors, warnings: r.warnings)
        case .filesInPlace:
            var total = (files: 0, directories: 0, bytes: UInt64(0), errors: [String](), warnings: [String]())
            let placements = plan.placements.isEmpty ? try await RestorePlan.placements(of: plan.snapshot, repository: repository) : plan.placements
            for p in placements {
                let r = try await restoreFiles(plan, from: p.path, into: p.target, progress: progress)
                total.files += r.files; total.directories += r.directories; total.bytes += r.bytes
                total.errors += r.errors; total.warnings += r.warnings
            }
            let paths = placements.map(\.path).joined(separator: ", ")
            return RestoreOutcome(summary: "restored \(total.files) files, \(total.directories) folders, \(total.bytes) bytes from snapshot \(plan.id) back into \(paths)",
                                  seconds: 0, checkHint: "look at \(paths); `kura diff \(plan.id) latest` after the next backup shows what differs",
                                  errors: total.errors, warnings: total.warnings)
        case .newDatabase, .databaseInPlace:
            var options: DatabaseRestoreOptions
            if case .newDatabase(let name) = plan.destination {
                options = DatabaseRestoreOptions(into: name)
                options.create = true
            } else {
                options = DatabaseRestoreOptions(into: plan.database ?? "")
                options.clean = true
                options.create = plan.tables.isEmpty
            }
            options.database = plan.database
            options.tables = plan.tables
            progress("restoring database \(plan.database ?? "") into \(options.into)…")
            let r = try await DatabaseRestorer(repository: repository, snapshot: plan.snapshot).restore(options)
            let what = r.tables.isEmpty ? "database '\(r.database)'" : "\(r.tables.joined(separator: ", ")) of '\(r.database)'"
            return RestoreOutcome(summary: "restored \(what) from snapshot \(plan.id) into '\(r.into)' on \(r.server): \(r.bytes) bytes (\(r.format))",
                                  seconds: r.seconds, checkHint: "psql -d \(r.into) -c '\\dt+'  (row counts: kura verify-restore \(plan.id))", warnings: r.warnings)
        }
    }

    /// `kura restore SNAP:PATH --target DIR --include …`, through the same calls.
    func restoreFiles(_ plan: RestorePlan, from path: String, into target: String, progress: @escaping @Sendable (String) -> Void) async throws -> RestoreResult {
        var options = RestoreOptions(target: target)
        options.includes = plan.includes
        let browser = SnapshotBrowser(repository: repository, snapshot: plan.snapshot)
        let entry = try await browser.entry(at: Array(path.utf8))
        return try await Restorer(repository: repository, options: options) { r in
            progress("\(r.files) files, \(r.bytes) bytes restored")
        }.restore(browser, entry: entry)
    }

    /// Saves what is there now, tagged `before-restore`, so the restore itself can be undone.
    func safetySnapshot(_ plan: RestorePlan) async throws -> Snapshot? {
        if let config = configuration, let source = plan.source.config {
            var backup = SourceBackup(config: config, source: source, repository: repository, host: host, full: false, now: Date(), logger: logger)
            backup.extraTags = [RestorePlan.safetyTag]
            return try await backup.run().result.snapshot
        }
        guard plan.source.kind == .files else {
            throw KuraError(.invalidArgument, "an in-place database restore needs the source in kura.toml (to take the safety snapshot first)",
                            hint: "restore into a new database, or pass --config with the source")
        }
        let present = plan.snapshot.paths.filter { FileManager.default.fileExists(atPath: $0) }
        guard !present.isEmpty else { return nil }  // nothing there now: nothing to save
        var options = BackupOptions(paths: present)
        options.tags = plan.snapshot.tags.filter { $0.hasPrefix("source:") } + [RestorePlan.safetyTag]
        options.host = host
        return try await Archiver(repository: repository, options: options).run().snapshot
    }

    func stopContainers(_ plan: RestorePlan) async throws -> [DockerClient.Container] {
        guard let config = configuration, let source = plan.source.config, source.kind == .dockerVolume else { return [] }
        let docker = DockerClient(settings: config.docker)
        guard docker.apiAvailable else { return [] }  // no Docker running: no container can use the volume
        var stopped: [DockerClient.Container] = []
        for c in try docker.containers(using: source.volumes) {
            do { try docker.perform("stop", c); stopped.append(c) } catch {
                _ = await start(stopped)
                throw error
            }
        }
        return stopped
    }

    /// Starts the containers again; returns the problems.
    func start(_ containers: [DockerClient.Container]) async -> [String] {
        guard let config = configuration else { return [] }
        let docker = DockerClient(settings: config.docker)
        var problems: [String] = []
        for c in containers.reversed() {
            do { try docker.perform("start", c) } catch { problems.append("\(c.name): \(KuraError.from(error).message)") }
        }
        return problems
    }
}
