import Foundation
import KuraArchiver
import KuraPostgres
import KuraRepository
import Logging

/// Backs up one configured source into a snapshot tagged `source:<name>`.
struct SourceBackup {
    let config: Configuration
    let source: SourceConfig
    let repository: Repository
    let host: String
    let full: Bool
    let now: Date
    let logger: Logger
    /// Tags added to the source's own (the restore wizard's `before-restore`).
    var extraTags: [String] = []

    struct Outcome {
        var result: BackupResult
        var warnings: [String]
    }

    func options(paths: [String]) -> BackupOptions {
        var o = BackupOptions(paths: paths)
        o.tags = [source.tag] + source.tags + (full ? ["full"] : []) + extraTags
        o.host = host
        o.forceReread = full
        o.excludes = source.exclude
        o.oneFileSystem = source.oneFileSystem
        return o
    }

    func run() async throws -> Outcome {
        switch source.kind {
        case .directory:
            let result = try await Archiver(repository: repository, options: options(paths: source.paths)).run()
            return Outcome(result: result, warnings: [])
        case .dockerVolume:
            return try await dockerVolumes()
        case .command:
            let name = source.filename ?? "\(source.name).out"
            let result = try await Archiver(repository: repository, options: options(paths: [])).runStreams(
                [StreamEntry(path: [name], content: .command(source.command))], source: "command").result
            return Outcome(result: result, warnings: [])
        case .postgres:
            return try await postgres()
        }
    }

    // MARK: - Docker volumes

    func dockerVolumes() async throws -> Outcome {
        let docker = DockerClient(settings: config.docker)
        var warnings: [String] = []
        var paths: [String] = []
        for v in source.volumes {
            let r = try await offPool { try docker.resolve(volume: v) }
            if let w = r.warning { warnings.append(w) }
            logger.info("volume resolved", metadata: ["source": .string(source.name), "volume": .string(v), "path": .string(r.path), "via": .string(r.via)])
            paths.append(r.path)
        }
        var touched: [DockerClient.Container] = []
        let action = source.pause ? "pause" : "stop"
        let undo = source.pause ? "unpause" : "start"
        if source.pause || !source.stopContainers.isEmpty {
            guard docker.apiAvailable else {
                throw KuraError(.fatal, "source \(source.name) must \(action) containers, but there is no Docker API at \(config.docker.socket)",
                                hint: "start Docker, or set [docker] socket; or remove stop-containers/pause from the source")
            }
            let volumes = source.volumes
            var targets = try await offPool { try docker.containers(using: volumes) }
            if source.stopContainers != ["*"], !source.stopContainers.isEmpty {
                targets = targets.filter { source.stopContainers.contains($0.name) || source.stopContainers.contains($0.id) || source.stopContainers.contains(String($0.id.prefix(12))) }
            }
            for c in targets where c.state == "running" {
                logger.notice("\(action) container", metadata: ["source": .string(source.name), "container": .string(c.name)])
                do { try await offPool { try docker.perform(action, c) }; touched.append(c) } catch {
                    await restore(touched, undo: undo, docker: docker, warnings: &warnings)
                    throw error
                }
            }
        }
        let result: BackupResult
        do {
            result = try await Archiver(repository: repository, options: options(paths: paths)).run()
        } catch {
            let problems = await restore(touched, undo: undo, docker: docker, warnings: &warnings)
            if !problems.isEmpty { throw KuraError(.fatal, "\(error); and containers could not be restarted: \(problems.joined(separator: "; "))", hint: "start them by hand: docker \(undo) NAME") }
            throw error
        }
        let problems = await restore(touched, undo: undo, docker: docker, warnings: &warnings)
        if !problems.isEmpty {
            throw KuraError(.fatal, "the backup was saved (snapshot \(result.snapshot.id?.short ?? "")), but containers could not be restarted: \(problems.joined(separator: "; "))",
                            hint: "start them by hand: docker \(undo) NAME")
        }
        return Outcome(result: result, warnings: warnings)
    }

    @discardableResult
    func restore(_ containers: [DockerClient.Container], undo: String, docker: DockerClient, warnings: inout [String]) async -> [String] {
        var problems: [String] = []
        for c in containers.reversed() {
            do { try await offPool { try docker.perform(undo, c) }; logger.notice("\(undo) container", metadata: ["container": .string(c.name)]) } catch {
                problems.append("\(c.name): \(error)")
                logger.error("cannot \(undo) container", metadata: ["container": .string(c.name), "error": .string("\(error)")])
            }
        }
        return problems
    }

    // MARK: - PostgreSQL (pg_dump streamed through runStreams)

    /// A postgres source is the same backup as `kura backup --postgres`: every database dumped from
    /// an exported snapshot with exact row counts, globals and a manifest, in one snapshot (so that
    /// `restore-db` and `verify-restore` work on it); `physical = true` adds a separate physical
    /// snapshot (`pg_basebackup`).
    func postgres() async throws -> Outcome {
        guard let pg = source.postgres else { throw KuraError(.invalidArgument, "postgres source without settings") }
        let dsn = try PostgresDSN(pg.dsn)
        var o = PostgresBackupOptions(dsn: dsn)
        o.databases = pg.databases
        o.allDatabases = pg.databases.isEmpty
        o.format = pg.format == "plain" ? .plain : .custom
        o.rowCounts = pg.rowCounts
        o.lockTimeoutSeconds = pg.lockTimeoutSeconds
        let logical = try await PostgresBackup(options: o).run(archiver: Archiver(repository: repository, options: options(paths: [])))
        var warnings: [String] = []
        // WAL that wal-push left in the spool while the repository was away goes in now, oldest first.
        if pg.walArchive, let folder = config.walSpool {
            let repo = repository
            let archive = WALArchive(spool: WALSpool(folder: folder, maxBytes: config.walSpoolMaxBytes)) { repo }
            do {
                let sent = try await archive.flush()
                if !sent.isEmpty { logger.notice("sent spooled WAL to the repository", metadata: ["files": .stringConvertible(sent.count)]) }
            } catch { warnings.append("the WAL spool \(folder) could not be drained: \(error)") }
        }
        if try await physicalDue(pg) {
            do { _ = try await PhysicalBackup(dsn: dsn).run(archiver: Archiver(repository: repository, options: options(paths: []))) } catch {
                warnings.append("the physical backup failed: \(error)")
            }
        }
        // The run report says when point-in-time recovery is broken (a gap in the archived WAL).
        if pg.walArchive {
            do {
                let wal = try await WALInspector(repository: repository).status(now: now)
                for g in wal.gaps { warnings.append("the archived WAL has a gap of \(g.count) segment(s), \(g.first) … \(g.last): point-in-time recovery cannot cross it; check archive_command and take a base backup") }
                if let last = wal.lastSegment { logger.info("archived WAL", metadata: ["newest": .string(last), "age-seconds": .stringConvertible(Int(wal.lastArchivedAgeSeconds ?? -1))]) }
            } catch { warnings.append("cannot read the archived WAL: \(error)") }
        }
        return Outcome(result: logical.backup, warnings: warnings)
    }

    /// `physical = true`: a base backup every run. `physical-schedule`: when the schedule has fired
    /// since this host's newest physical snapshot (or there is none) — e.g. weekly, beside daily dumps.
    func physicalDue(_ pg: PostgresSettings) async throws -> Bool {
        if pg.physical { return true }
        guard let cron = pg.physicalSchedule else { return false }
        let schedule = Schedule([cron], timeZone: config.timeZone)
        guard let slot = schedule.previous(atOrBefore: now) else { return false }
        let newest = try await repository.listSnapshots().filter { $0.source == "postgres-physical" && $0.host == host && $0.tags.contains(source.tag) }.last
        return newest.map { $0.date < slot } ?? true
    }
}
