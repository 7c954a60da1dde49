import Foundation
import KuraArchiver
import KuraRepository
import KuraRestorer
import KuraTar

/// Physical backups: `pg_basebackup -Ft -X fetch -D -` streams the whole data directory, with the
/// WAL that makes it consistent, as one tar into `/postgres-physical/base.tar`; a small manifest
/// follows. Weekly physical backups dedup against each other like any other stream.
///
/// `-D -` (tar to standard output) handles a single tablespace only, so a server with extra
/// tablespaces is refused up front. `-X fetch` collects the WAL at the end of the backup, so the
/// server must keep it until then (wal_keep_size, or a replication slot on busy servers). The
/// role needs the REPLICATION attribute and pg_hba.conf a `replication` line for it.
public struct PhysicalBackup: Sendable {
    public var dsn: PostgresDSN
    public var tools = PostgresTools()
    /// `--checkpoint=fast`: start at once instead of waiting for a spread checkpoint.
    public var fastCheckpoint = true

    public init(dsn: PostgresDSN) { self.dsn = dsn }

    public func run(archiver: Archiver) async throws -> (backup: BackupResult, manifest: PhysicalManifest) {
        try await archiver.repository.withLock(.shared) { _ in try await runLocked(archiver: archiver) }
    }

    private func runLocked(archiver: Archiver) async throws -> (backup: BackupResult, manifest: PhysicalManifest) {
        let control = try PostgresConnection(dsn.with(dbname: dsn.dbname ?? "postgres"))
        defer { control.close() }
        let serverVersion = control.serverVersion
        let version = try await tools.requireCompatible("pg_basebackup", serverVersion: serverVersion)
        let extra = try control.query("SELECT spcname FROM pg_catalog.pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1").compactMap { $0[0] }
        guard extra.isEmpty else {
            throw KuraError(.invalidArgument, "the server has tablespaces besides pg_default (\(extra.joined(separator: ", "))): pg_basebackup can stream only a single tablespace as a tar to kura; nothing was backed up",
                            hint: "back up with `kura backup --postgres DSN --all-databases` (logical dumps), or run pg_basebackup -Ft -D DIR and back up DIR")
        }
        let dataDirectory = try? control.value("SELECT current_setting('data_directory')")
        let server = PostgresManifest.Server(host: control.host, port: control.port, user: control.user,
                                             version: PostgresVersion.display(serverVersion), versionNumber: serverVersion)
        // WAL bounds for point-in-time recovery: the position before the backup starts is at or before its
        // checkpoint's redo point, and the position after it ends is at or after its end point.
        let before = try Self.walPosition(control)
        var argv = [try tools.path("pg_basebackup"), "--pgdata=-", "--format=tar", "--wal-method=fetch", "--no-password"]
        if fastCheckpoint { argv.append("--checkpoint=fast") }
        argv += ["-d", dsn.childConninfo]
        let started = Date()
        var base = PhysicalManifest(created: Timestamp.format(started), server: server, pgBasebackup: version.text,
                                    path: PhysicalManifest.tarPath, bytes: 0, seconds: 0, dataDirectory: dataDirectory ?? nil)
        base.startLSN = before.position
        base.timeline = before.timeline
        base.startWAL = WALSegment(timeline: before.timeline, position: before.position).name
        let start = base
        let box = PhysicalBox()
        let entries = [
            StreamEntry(path: ["postgres-physical", "base.tar"], content: .command(argv, environment: dsn.childEnvironment)),
            StreamEntry(path: ["postgres-physical", "manifest.json"], content: .deferred({ earlier in
                var m = start
                if let o = earlier.first { m.bytes = o.bytes; m.seconds = o.seconds }
                // The tar has ended: pg_basebackup has stopped the backup.
                let after = try Self.walPosition(control)
                m.stopLSN = after.position
                m.finished = Timestamp.format(Date())
                box.set(m)
                return try ManifestCoding.encode(m)
            })),
        ]
        let (result, _) = try await archiver.runStreams(entries, source: "postgres-physical")
        guard let m = box.get() else { throw KuraError(.fatal, "internal error: the manifest was not written") }
        return (result, m)
    }
}

extension PhysicalBackup {
    /// The current WAL insert position and timeline (on a standby: the last replayed position).
    static func walPosition(_ c: PostgresConnection) throws -> (position: WALPosition, timeline: UInt32) {
        let row = try c.query("""
            SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text,
                   (SELECT timeline_id FROM pg_control_checkpoint())::text
            """).first
        guard let text = row?[0] ?? nil, let p = WALPosition(text), let t = (row?[1] ?? nil).flatMap({ UInt32($0) }) else {
            throw KuraError(.fatal, "the server did not report its WAL position")
        }
        return (p, t)
    }
}

final class PhysicalBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: PhysicalManifest?
    func set(_ m: PhysicalManifest) { lock.withLock { value = m } }
    func get() -> PhysicalManifest? { lock.withLock { value } }
}

public struct PhysicalRestoreResult: Sendable, Codable {
    public var target: String
    public var files = 0
    public var directories = 0
    public var links = 0
    public var bytes: UInt64 = 0
    public var seconds: Double = 0
    /// The owner the data directory was given ("postgres"), when kura ran as root.
    public var owner: String?
    public var serverVersion: String?
}

/// Lays out a data directory from `/postgres-physical/base.tar`: the tar is read from the store with
/// ContentStreamer and unpacked by KuraTar's TarReader (no external tar, no temporary copy). The
/// folder is created with mode 0700 (PostgreSQL refuses anything more open); as root, every entry
/// gets the owner recorded in the tar (by name when it exists here, else by number), so the
/// server's own user can start it with `pg_ctl -D DIR start`. Files are fsynced.
public struct PhysicalRestorer: Sendable {
    public let repository: Repository
    public var sync = true

    public init(repository: Repository) { self.repository = repository }

    public func restore(snapshot: Snapshot, target: String, progress: (@Sendable (UInt64) -> Void)? = nil) async throws -> PhysicalRestoreResult {
        let started = Date()
        let browser = SnapshotBrowser(repository: repository, snapshot: snapshot)
        let manifest = try? await ManifestCoding.load(PhysicalManifest.self, path: PhysicalManifest.path, from: browser, what: "a physical PostgreSQL backup")
        let entry: SnapshotEntry
        do { entry = try await browser.entry(at: Array(PhysicalManifest.tarPath.utf8)) } catch let e as KuraError where e.code == .notFound {
            throw KuraError(.notFound, "snapshot \(snapshot.id?.short ?? "") has no \(PhysicalManifest.tarPath): it is not a physical PostgreSQL backup (its source is '\(snapshot.source)')",
                            hint: "make one with `kura backup --postgres-physical DSN`")
        }
        guard let node = entry.node, node.type == .file else { throw KuraError(.corrupt, "\(PhysicalManifest.tarPath) is not a file") }

        let root = URL(fileURLWithPath: target).standardizedFileURL.path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isDir) {
            guard isDir.boolValue else { throw KuraError(.alreadyExists, "\(root) exists and is not a folder") }
            guard ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? ["?"]).isEmpty else {
                throw KuraError(.alreadyExists, "\(root) is not empty", hint: "restore into a new or empty folder; a data directory is never merged into another")
            }
        } else {
            try FileManager.default.createDirectory(atPath: (root as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard mkdir(root, 0o700) == 0 else { throw KuraError(.io, "cannot create \(root): \(String(cString: strerror(errno)))") }
        }
        guard chmod(root, 0o700) == 0 else { throw KuraError(.io, "cannot set mode 0700 on \(root): \(String(cString: strerror(errno)))") }

        let writer = DataDirectoryWriter(root: root, sync: sync)
        let reader = TarReader()
        var done = false
        try await ContentStreamer(repository: repository).stream(node.content) { bytes in
            guard !done else { return }
            for event in try reader.feed(bytes) {
                switch event {
                case .header(let e): try writer.begin(e)
                case .contents(let piece): try writer.write(piece); progress?(writer.result.bytes)
                case .endOfEntry: try writer.end()
                case .endOfArchive: done = true
                }
            }
        }
        guard done else { throw KuraError(.corrupt, "\(PhysicalManifest.tarPath) ends before the end of its tar archive") }
        try writer.finish()
        var result = writer.result
        result.target = root
        result.seconds = Date().timeIntervalSince(started)
        result.serverVersion = manifest?.server.version
        return result
    }
}

/// Creates the entries of a tar under a root folder, refusing paths that leave it.
final class DataDirectoryWriter {
    let root: String
    let sync: Bool
    let isRoot = geteuid() == 0
    var result: PhysicalRestoreResult
    private var fd: Int32 = -1
    private var current: TarEntry?
    private var directories: [(String, TarEntry)] = []
    private var symlinks: Set<String> = []
    private var rootOwner: (uid_t, gid_t)?

    init(root: String, sync: Bool) {
        self.root = root
        self.sync = sync
        result = PhysicalRestoreResult(target: root)
    }

    private func owner(_ e: TarEntry) -> (uid_t, gid_t) {
        var uid = uid_t(e.uid), gid = gid_t(e.gid)
        if !e.userName.isEmpty, let pw = getpwnam(e.userName) { uid = pw.pointee.pw_uid }
        if !e.groupName.isEmpty, let gr = getgrnam(e.groupName) { gid = gr.pointee.gr_gid }
        return (uid, gid)
    }

    private func path(of e: TarEntry) throws -> String {
        let text = String(decoding: e.path, as: UTF8.self)
        let parts = text.split(separator: "/").filter { $0 != "." }
        guard !text.hasPrefix("/"), !parts.isEmpty, !parts.contains(".."), !e.path.contains(0) else {
            throw KuraError(.corrupt, "the tar holds an unsafe path '\(text)'; nothing outside \(root) is written")
        }
        var prefix = ""
        for p in parts.dropLast() {
            prefix += (prefix.isEmpty ? "" : "/") + p
            if symlinks.contains(prefix) { throw KuraError(.corrupt, "the tar puts '\(text)' below the symlink '\(prefix)'") }
        }
        return root + "/" + parts.joined(separator: "/")
    }

    private func fail(_ what: String, _ p: String) -> KuraError {
        KuraError(errno == ENOSPC ? .noSpace : .io, "cannot \(what) \(p): \(String(cString: strerror(errno)))")
    }

    func begin(_ e: TarEntry) throws {
        let p = try path(of: e)
        if isRoot, rootOwner == nil || String(decoding: e.path, as: UTF8.self) == "PG_VERSION" { rootOwner = owner(e) }
        switch e.kind {
        case .directory:
            if mkdir(p, 0o700) != 0 && errno != EEXIST { throw fail("create the folder", p) }
            directories.append((p, e))
            result.directories += 1
        case .file:
            fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw fail("create", p) }
            current = e
            result.files += 1
        case .symlink:
            guard symlink(String(decoding: e.linkTarget, as: UTF8.self), p) == 0 else { throw fail("create the symlink", p) }
            if isRoot { let (u, g) = owner(e); _ = lchown(p, u, g) }
            symlinks.insert(String(p.dropFirst(root.count + 1)))
            result.links += 1
        case .hardLink:
            let target = try path(of: TarEntry(path: e.linkTarget))
            guard link(target, p) == 0 else { throw fail("create the hard link", p) }
            result.links += 1
        default:
            throw KuraError(.corrupt, "the tar holds a device or FIFO (\(String(decoding: e.path, as: UTF8.self))), which a data directory never does")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { return }
        var done = 0
        try bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; throw fail("write", String(decoding: current?.path ?? [], as: UTF8.self)) }
                done += n
            }
        }
        result.bytes += UInt64(bytes.count)
    }

    func end() throws {
        guard fd >= 0, let e = current else { return }
        defer { close(fd); fd = -1; current = nil }
        let name = String(decoding: e.path, as: UTF8.self)
        guard fchmod(fd, mode_t(e.mode & 0o7777)) == 0 else { throw fail("set the mode of", name) }
        if isRoot { let (u, g) = owner(e); guard fchown(fd, u, g) == 0 else { throw fail("set the owner of", name) } }
        var times = [timespec(tv_sec: Int(e.modificationSeconds), tv_nsec: Int(e.modificationNanoseconds)),
                     timespec(tv_sec: Int(e.modificationSeconds), tv_nsec: Int(e.modificationNanoseconds))]
        _ = futimens(fd, &times)
        if sync { guard fsync(fd) == 0 else { throw fail("fsync", name) } }
    }

    func finish() throws {
        // Folders last (deepest first), so a read-only folder cannot block its own contents.
        for (p, e) in directories.reversed() {
            guard chmod(p, mode_t(e.mode & 0o7777) | 0o700) == 0 else { throw fail("set the mode of", p) }
            if isRoot { let (u, g) = owner(e); guard chown(p, u, g) == 0 else { throw fail("set the owner of", p) } }
            if sync { let d = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC); if d >= 0 { fsync(d); close(d) } }
        }
        if isRoot, let (u, g) = rootOwner {
            guard chown(root, u, g) == 0 else { throw fail("set the owner of", root) }
            result.owner = getpwuid(u).map { String(cString: $0.pointee.pw_name) } ?? "\(u)"
        }
        if sync { let d = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC); if d >= 0 { fsync(d); close(d) } }
    }
}
