import Foundation
import KuraArchiver
import KuraCompression
import KuraCrypto
import KuraRepository
import KuraTar

/// `kura import-legacy DIR`: turns the dumps and archives of the old shell scripts into snapshots, each
/// dated when the original was made, so the history survives the switch.
///
/// - `*.sql.gz` (a gzip-compressed dump): decompressed while it is read and stored as one file,
///   `/postgres/<db>.sql` when it goes to a postgres source, else `/<name>.sql`.
/// - `*.tar.gz` / `*.tgz` (a volume or folder archive): every entry becomes a snapshot entry with the
///   archive's metadata (modes, owners, mtimes, symlinks, hard links, xattrs), under the path of the
///   source it goes to (a docker-volume source's `<docker root>/volumes/<name>/_data`, a directory
///   source's path) or `/legacy/<name>`. The tree is built directly from the tar stream: nothing is
///   extracted to disk, so owners and modes survive even when they could not be recreated here.
///
/// The time of a snapshot is the date and time in the file name when it has one
/// (`app_2025-03-01_1700.sql.gz`, `media-20250301T173000.tar.gz`, `db.2025-03-01.sql.gz`), read in the
/// configuration's time zone; otherwise the file's modification time. (Names win because copies
/// and restores of old backups often reset modification times; names written by the scripts do not change.)
/// A date without a time means the file's mtime if that falls on the same day, else 00:00.
///
/// Snapshots are tagged `imported` and `source:<name>` (the source named with --source, else a
/// configured source whose name or volume equals the file's name part), so retention and status treat
/// them like the source's own. Each snapshot also carries `legacy-sha256:<hex>`, the SHA-256 of the
/// imported file: a later run skips a file only when a snapshot with the same path holds that same
/// content, so a *different* dump with the same name and date is imported (with a warning), not skipped.
///
/// A file whose name dates it more than a day in the future is refused (it would otherwise stay the
/// newest snapshot, `latest`, and survive every retention policy for years). A file that cannot be
/// read (truncated gzip, damaged tar) fails alone: the others are imported and the item carries the error.
public struct LegacyImporter: Sendable {
    public let repository: Repository
    public let config: Configuration
    public var host: String
    public var stripComponents = 0
    public var dryRun = false
    /// "Now", for refusing files dated in the future (injectable for tests).
    public var now: @Sendable () -> Date = { Date() }
    /// How far in the future a name's date may be before the file is refused (time zones, clock skew).
    public static let futureTolerance: TimeInterval = 86_400

    /// The tag prefix that records the imported file's content.
    public static let hashTagPrefix = "legacy-sha256:"

    public init(repository: Repository, config: Configuration, host: String) {
        self.repository = repository; self.config = config; self.host = host
    }

    public enum Kind: String, Sendable, Codable { case dump, archive }

    /// A file found in the folder, with what it will become.
    public struct Item: Sendable, Codable {
        public var file: String
        public var kind: Kind
        public var name: String
        public var time: Date
        /// "name" or "mtime".
        public var timeFrom: String
        public var source: String?
        /// The snapshot path (the dump's file, or the folder the archive goes to).
        public var path: String
        public var snapshot: String?
        public var skipped: String?
        /// Why this file could not be imported (the others still were); the run then exits non-zero.
        public var error: String?
        /// SHA-256 of the file as found (hex), recorded as a `legacy-sha256:` tag.
        public var sha256: String?
        /// What was changed or left out on the way (member names that climb out of the archive, …).
        public var warnings: [String] = []
        public var files = 0
        public var bytes: UInt64 = 0
    }

    /// Lists the importable files below `directory`, oldest first, and decides where each goes.
    public func plan(directory: String, source sourceName: String?, targetPath: String?) throws -> [Item] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else {
            throw KuraError(.notFound, "cannot read the folder \(directory)", hint: "name the folder that holds the old *.sql.gz and *.tar.gz files")
        }
        var items: [Item] = []
        let forced = try sourceName.map { n -> SourceConfig in
            guard let s = config.source(named: n) else {
                if config.path.isEmpty {
                    // No configuration file: the name is only a tag (source:NAME), as the docs describe.
                    return SourceConfig(name: n, kind: .directory)
                }
                throw KuraError(.invalidArgument, "there is no source named \"\(n)\" in the configuration", hint: "sources: \(config.sources.map(\.name).joined(separator: ", "))")
            }
            return s
        }
        for case let rel as String in enumerator {
            let lower = rel.lowercased()
            let kind: Kind
            if lower.hasSuffix(".sql.gz") { kind = .dump } else if lower.hasSuffix(".tar.gz") || lower.hasSuffix(".tgz") { kind = .archive } else { continue }
            let full = directory + "/" + rel
            var st = stat()
            guard stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let mtime = Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
            let fileName = (rel as NSString).lastPathComponent
            let parsed = LegacyImporter.parseName(fileName, timeZone: config.timeZone, mtime: mtime)
            let source = forced ?? config.sources.first { s in
                s.name == parsed.name || s.volumes.contains(parsed.name) || (s.postgres?.databases.contains(parsed.name) ?? false)
            }
            let path: String
            switch kind {
            case .dump:
                path = source?.kind == .postgres ? "/postgres/\(parsed.name).sql" : "/\(parsed.name).sql"
            case .archive:
                if let targetPath { path = targetPath }
                else if let s = source, s.kind == .dockerVolume {
                    let volume = s.volumes.contains(parsed.name) ? parsed.name : s.volumes.first ?? parsed.name
                    path = config.docker.root + "/volumes/\(volume)/_data"
                } else if let s = source, s.kind == .directory, s.paths.count == 1 { path = s.paths[0] }
                else { path = "/legacy/\(parsed.name)" }
            }
            items.append(Item(file: full, kind: kind, name: parsed.name, time: parsed.time, timeFrom: parsed.fromName ? "name" : "mtime",
                              source: source?.name, path: path))
        }
        return items.sorted { ($0.time, $0.file) < ($1.time, $1.file) }
    }

    /// Imports the planned items; returns them with their snapshot ids (or why they were skipped).
    public func run(_ items: [Item], progress: (@Sendable (Item) -> Void)? = nil) async throws -> [Item] {
        try await repository.withLock(.shared) { _ in try await runLocked(items, progress: progress) }
    }

    private func runLocked(_ items: [Item], progress: (@Sendable (Item) -> Void)? = nil) async throws -> [Item] {
        try await repository.loadIndex()
        let existing = try await repository.listSnapshots().filter { $0.tags.contains("imported") && $0.host == host }
        var out: [Item] = []
        let latestAllowed = now().addingTimeInterval(LegacyImporter.futureTolerance)
        for var item in items {
            defer { out.append(item); progress?(item) }
            if item.time > latestAllowed {
                item.error = "its name dates it in the future (\(Timestamp.format(item.time))): refused, since it would stay the newest snapshot (`latest`) and outlive every retention policy"
                continue
            }
            // Compare content, not only time and path: a different dump with the same name and date is new.
            do { item.sha256 = try LegacyImporter.sha256(ofFile: item.file) } catch let e as InputFileError {
                item.error = e.error.message; continue
            }
            let hashTag = LegacyImporter.hashTagPrefix + (item.sha256 ?? "")
            let samePlace = existing.filter { abs($0.date.timeIntervalSince(item.time)) < 0.001 && $0.paths == [item.path] }
            if let dup = existing.first(where: { $0.tags.contains(hashTag) && $0.paths == [item.path] }) {
                item.skipped = "already imported as \(dup.id?.short ?? "") (same content)"
                item.snapshot = dup.id?.hex
                continue
            }
            if let dup = samePlace.first(where: { !$0.tags.contains { $0.hasPrefix(LegacyImporter.hashTagPrefix) } }) {
                // Imported by a kura that did not record the content: time and path are all there is to go by.
                item.skipped = "already imported as \(dup.id?.short ?? "") (same time and path; that import did not record its content)"
                item.snapshot = dup.id?.hex
                continue
            }
            if let other = samePlace.first {
                item.warnings.append("a different file with the same name and date was imported before as \(other.id?.short ?? ""); this one is imported too (its content differs)")
            }
            if dryRun { continue }
            do {
                let snapshot: Snapshot
                switch item.kind {
                case .dump: snapshot = try await importDump(item)
                case .archive:
                    let (s, warnings) = try await importArchive(item)
                    snapshot = s
                    item.warnings += warnings
                }
                item.snapshot = snapshot.id?.hex
                item.files = snapshot.summary?.files ?? 0
                item.bytes = snapshot.summary?.totalBytes ?? 0
            } catch let e as InputFileError {
                // This file is damaged; the repository is not: go on with the others.
                item.error = e.error.message + (e.error.hint.map { " (\($0))" } ?? "")
            }
        }
        return out
    }

    /// An error in the file being imported (as opposed to the repository): it fails that file only.
    struct InputFileError: Error { var error: KuraError }

    /// The SHA-256 (hex) of a file, read in pieces.
    static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InputFileError(error: KuraError(.notFound, "cannot open \(path)", hint: "nothing of this file was imported"))
        }
        defer { try? handle.close() }
        let hasher = SHA256Hasher()
        do {
            while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(Array(data)) }
        } catch {
            throw InputFileError(error: KuraError(.io, "cannot read \(path): \(error)", hint: "nothing of this file was imported"))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Names and times

    public struct ParsedName: Sendable { public var name: String; public var time: Date; public var fromName: Bool }

    /// ``parseName(_:timeZone:mtime:)``, for tests.
    public static func parseNameForTesting(_ fileName: String, timeZone: TimeZone, mtime: Date) -> ParsedName {
        parseName(fileName, timeZone: timeZone, mtime: mtime)
    }

    /// The name part and the time of a file name; see the type's documentation.
    static func parseName(_ fileName: String, timeZone: TimeZone, mtime: Date) -> ParsedName {
        var stem = fileName
        for ext in [".sql.gz", ".tar.gz", ".tgz"] where stem.lowercased().hasSuffix(ext) { stem = String(stem.dropLast(ext.count)); break }
        let patterns = [
            #"(\d{4})-?(\d{2})-?(\d{2})[T_ .-]?(\d{2})[:h.-]?(\d{2})(?:[:m.-]?(\d{2}))?"#,
            #"(\d{4})-(\d{2})-(\d{2})"#,
            #"(\d{4})(\d{2})(\d{2})"#,
        ]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        for pattern in patterns {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            let ns = stem as NSString
            for m in regex.matches(in: stem, range: NSRange(location: 0, length: ns.length)) {
                func group(_ i: Int) -> Int? {
                    guard i < m.numberOfRanges, m.range(at: i).location != NSNotFound else { return nil }
                    return Int(ns.substring(with: m.range(at: i)))
                }
                guard let y = group(1), let mo = group(2), let d = group(3), (1990...2200).contains(y), (1...12).contains(mo), (1...31).contains(d) else { continue }
                var comps = DateComponents(year: y, month: mo, day: d, hour: 0, minute: 0, second: 0)
                let hasTime = m.numberOfRanges > 4 && group(4) != nil
                if hasTime {
                    guard let h = group(4), let mi = group(5), h < 24, mi < 60 else { continue }
                    comps.hour = h; comps.minute = mi; comps.second = group(6).flatMap { $0 < 60 ? $0 : nil } ?? 0
                }
                guard let date = calendar.date(from: comps), calendar.component(.day, from: date) == d else { continue }
                var time = date
                if !hasTime, calendar.isDate(mtime, inSameDayAs: date) { time = mtime }
                let before = ns.substring(to: m.range.location)
                let after = ns.substring(from: m.range.location + m.range.length)
                let trim = CharacterSet(charactersIn: "_-. T")
                var name = before.trimmingCharacters(in: trim)
                if name.isEmpty { name = after.trimmingCharacters(in: trim) }
                return ParsedName(name: name.isEmpty ? "dump" : name, time: time, fromName: true)
            }
        }
        return ParsedName(name: stem.isEmpty ? "dump" : stem, time: mtime, fromName: false)
    }

    // MARK: - Reading

    /// Feeds a gzip file, decompressed, to `body` in pieces. A failure of the gzip layer (damaged or
    /// truncated) becomes an ``InputFileError`` that says "gzip"; errors thrown by `body` (the tar layer,
    /// the repository) pass through unchanged, so that each layer is named for what it is.
    static func readGzip(_ path: String, _ body: ([UInt8]) async throws -> Void) async throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InputFileError(error: KuraError(.notFound, "cannot open \(path)", hint: "nothing of this file was imported"))
        }
        defer { try? handle.close() }
        let gzip = GzipReader()
        func gzipError(_ error: any Error) -> InputFileError {
            InputFileError(error: KuraError(.corrupt, "\(path) is not a complete gzip file: \(error)",
                                            hint: "nothing of this file was imported; re-import it once it is repaired, or move it away"))
        }
        while true {
            let data: Data
            do { data = try handle.read(upToCount: 64 << 10) ?? Data() } catch {
                throw InputFileError(error: KuraError(.io, "cannot read \(path): \(error)", hint: "nothing of this file was imported"))
            }
            if data.isEmpty { break }
            let out: [UInt8]
            do { out = try gzip.feed(Array(data)) } catch { throw gzipError(error) }
            if !out.isEmpty { try await body(out) }
        }
        do { try gzip.finish() } catch { throw gzipError(error) }
    }

    func tags(_ item: Item) -> [String] {
        ["imported"] + (item.source.map { [SourceConfig.tag(for: $0)] } ?? []) + (item.sha256.map { [LegacyImporter.hashTagPrefix + $0] } ?? [])
    }

    func importDump(_ item: Item) async throws -> Snapshot {
        let started = Date()
        let ingester = ContentStream(repository: repository)
        try await LegacyImporter.readGzip(item.file) { try await ingester.append($0) }
        let content = try await ingester.finish()
        let components = item.path.split(separator: "/").map { Array($0.utf8) }
        var file = Node(name: components.last!, type: .file)
        file.mode = 0o600
        file.mtime = Timespec(seconds: Int64(item.time.timeIntervalSince1970.rounded(.down)), nanoseconds: 0)
        file.ctime = file.mtime
        file.size = content.length
        file.content = content.extents
        var node = file
        for name in components.dropLast().reversed() {
            let subtree = try await repository.saveTree(Tree(nodes: [node])).id
            var dir = Node(name: name, type: .directory)
            dir.mode = 0o700
            dir.mtime = file.mtime; dir.ctime = file.mtime
            dir.subtree = subtree
            node = dir
        }
        let root = try await repository.saveTree(Tree(nodes: [node])).id
        try await repository.flush()
        var summary = Snapshot.Summary()
        summary.files = 1
        summary.directories = components.count - 1
        summary.totalBytes = content.length
        summary.blobsAdded = ingester.blobsAdded
        summary.bytesAdded = ingester.bytesAdded
        summary.bytesStored = ingester.bytesStored
        summary.durationSeconds = Date().timeIntervalSince(started)
        return try await save(item, tree: root, source: item.source.flatMap { config.source(named: $0)?.kind == .postgres ? "postgres" : nil } ?? "command", summary: summary)
    }

    func save(_ item: Item, tree: BlobID, source: String, summary: Snapshot.Summary) async throws -> Snapshot {
        var s = Snapshot(time: item.time, host: host, username: Host.userName, paths: [item.path], tree: tree, program: Archiver.programVersion)
        s.tags = tags(item)
        s.source = source
        s.summary = summary
        return try await repository.saveSnapshot(s)
    }

    /// A folder being assembled from tar entries.
    final class Folder {
        var node: Node?
        var children: [[UInt8]: Child] = [:]
        enum Child { case folder(Folder), leaf(Node) }
        func folder(_ name: [UInt8]) -> Folder {
            if case .folder(let f)? = children[name] { return f }
            let f = Folder(); children[name] = .folder(f); return f
        }
    }

    /// Imports a .tar.gz below `item.path`. Member names are untrusted: a name with a `..` component is
    /// refused (it could climb out of the import folder on restore) and an absolute name is stored
    /// relative to the import folder; both are reported in the returned warnings.
    func importArchive(_ item: Item) async throws -> (Snapshot, [String]) {
        let started = Date()
        let ingester = ContentStream(repository: repository)
        let root = Folder()
        let tar = TarReader()
        var current: (entry: TarEntry, node: Node, path: [[UInt8]])?
        var nextInode: UInt64 = 1
        var inodeByPath: [[[UInt8]]: UInt64] = [:]
        var nodeByInode: [UInt64: Node] = [:]
        var linkCount: [UInt64: UInt32] = [:]
        var summary = Snapshot.Summary()
        let strip = stripComponents

        var warnings: [String] = []
        /// The member's path below the import folder, or nil when it must not be stored.
        func components(_ path: [UInt8], member: Bool = true) -> [[UInt8]]? {
            let parts = path.split(separator: 47, omittingEmptySubsequences: true).map(Array.init).filter { $0 != [46] }
            if parts.contains([46, 46]) {
                if member { warnings.append("refused the member \(PathBytes.display(path).debugDescription): a \"..\" in its name would climb out of the archive") }
                return nil
            }
            if member, path.first == 47 {
                warnings.append("the member \(PathBytes.display(path).debugDescription) has an absolute name: stored below \(item.path)")
            }
            return parts.count > strip ? Array(parts.dropFirst(strip)) : []
        }
        /// Puts a node into the tree being built. A member below a name that is not a folder (`link/x`
        /// after a symlink `link`) is left out with a warning: the symlink stays a symlink instead of
        /// silently becoming a folder. Returns false when the member was left out.
        @discardableResult
        func insert(_ node: Node, at path: [[UInt8]]) -> Bool {
            var f = root
            for (i, c) in path.dropLast().enumerated() {
                if case .leaf(let other)? = f.children[c] {
                    let through = path.prefix(i + 1).map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
                    let member = path.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
                    warnings.append("left out the member \(member.debugDescription): it lies below \(through.debugDescription), which the archive holds as a \(other.type == .symlink ? "symlink" : "non-folder"), kept as it is")
                    return false
                }
                f = f.folder(c)
            }
            if node.type == .directory {
                if case .leaf(let other)? = f.children[path.last!] {
                    let member = path.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
                    warnings.append("left out the folder \(member.debugDescription): the archive already holds a \(other.type == .symlink ? "symlink" : "non-folder") by that name, kept as it is")
                    return false
                }
                let d = f.folder(path.last!); d.node = node
            } else { f.children[path.last!] = .leaf(node) }
            return true
        }
        func node(for e: TarEntry, name: [UInt8]) -> Node {
            let type: NodeType
            switch e.kind {
            case .file, .hardLink: type = .file
            case .directory: type = .directory
            case .symlink: type = .symlink
            case .fifo: type = .fifo
            case .characterDevice: type = .characterDevice
            case .blockDevice: type = .blockDevice
            }
            var n = Node(name: name, type: type)
            n.mode = e.mode & 0o7777
            n.uid = e.uid; n.gid = e.gid; n.user = e.userName; n.group = e.groupName
            n.mtime = Timespec(seconds: e.modificationSeconds, nanoseconds: e.modificationNanoseconds)
            n.ctime = n.mtime
            n.linkTarget = e.kind == .symlink ? e.linkTarget : []
            if e.kind == .symlink { n.size = UInt64(e.linkTarget.count) }
            n.xattrs = e.extendedAttributes.map { ExtendedAttribute(name: Array($0.name.utf8), value: $0.value) }
            if e.kind == .characterDevice || e.kind == .blockDevice {
                let major = UInt64(e.deviceMajor), minor = UInt64(e.deviceMinor)
                n.rdev = ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff)
            }
            return n
        }

        func handle(_ events: [TarReader.Event]) async throws {
            for event in events {
                switch event {
                case .header(let e):
                    guard let path = components(e.path) else { current = nil; continue }
                    if path.isEmpty {
                        if e.kind == .directory { root.node = node(for: e, name: []) }
                        current = nil
                        continue
                    }
                    var n = node(for: e, name: path.last!)
                    if e.kind == .hardLink {
                        if let target = components(e.linkTarget, member: false), let ino = inodeByPath[target], let t = nodeByInode[ino] {
                            n = t; n.name = path.last!
                            linkCount[ino, default: 1] += 1
                            inodeByPath[path] = ino
                            insert(n, at: path)
                            summary.files += 1
                            summary.totalBytes += n.size
                            current = nil
                            continue
                        }
                        // A link to something not in the archive (or left out of it): there is no data to link
                        // to, so it is stored as an empty file, and said so.
                        let member = PathBytes.display(e.path).debugDescription, target = PathBytes.display(e.linkTarget).debugDescription
                        warnings.append("the hard link \(member) points to \(target), which is not in the archive: stored as an empty file")
                    }
                    n.inode = nextInode; nextInode += 1
                    n.links = 1
                    current = (e, n, path)
                case .contents(let bytes):
                    // Only a file's own data (a hard link's copy of its target's data is skipped).
                    if current?.node.type == .file { try await ingester.append(bytes) }
                case .endOfEntry:
                    guard var c = current else { continue }
                    current = nil
                    if c.node.type == .file {
                        let content = try await ingester.finish()
                        c.node.content = content.extents
                        c.node.size = content.length
                        inodeByPath[c.path] = c.node.inode
                        nodeByInode[c.node.inode] = c.node
                        summary.files += 1
                        summary.totalBytes += content.length
                    } else if c.node.type == .directory {
                        summary.directories += 1
                    } else {
                        summary.otherEntries += 1
                    }
                    insert(c.node, at: c.path)
                case .endOfArchive:
                    break
                }
            }
        }

        /// The tar layer's own errors, named as such (the gzip layer around them was fine).
        func tarError(_ error: TarError) -> InputFileError {
            InputFileError(error: KuraError(.corrupt, "\(item.file) is a valid gzip file, but what it holds is not a readable tar archive: \(error)",
                                            hint: "nothing of this archive was imported; re-import it once it is repaired, or move it away"))
        }
        do {
            try await LegacyImporter.readGzip(item.file) { bytes in try await handle(try tar.feed(bytes)) }
            try tar.finish()
        } catch let e as TarError { throw tarError(e) }

        let archiveTime = Timespec(seconds: Int64(item.time.timeIntervalSince1970.rounded(.down)), nanoseconds: 0)
        func saveFolder(_ f: Folder) async throws -> BlobID {
            var nodes: [Node] = []
            for (name, child) in f.children {
                switch child {
                case .leaf(var n):
                    if n.type == .file, n.inode != 0, let count = linkCount[n.inode] { n.links = count }
                    nodes.append(n)
                case .folder(let sub):
                    var d = sub.node ?? LegacyImporter.syntheticFolder(name, time: archiveTime)
                    d.name = name
                    d.subtree = try await saveFolder(sub)
                    nodes.append(d)
                }
            }
            return try await repository.saveTree(Tree(nodes: nodes)).id
        }
        // The archive's root goes to item.path; the folders above it are synthetic.
        let target = item.path.split(separator: "/").map { Array($0.utf8) }
        var top = root.node ?? LegacyImporter.syntheticFolder(target.last ?? [], time: archiveTime)
        var treeID = try await saveFolder(root)
        if let last = target.last {
            top.name = last
            top.subtree = treeID
            var node = top
            for name in target.dropLast().reversed() {
                let sub = try await repository.saveTree(Tree(nodes: [node])).id
                var d = LegacyImporter.syntheticFolder(name, time: archiveTime)
                d.subtree = sub
                node = d
            }
            treeID = try await repository.saveTree(Tree(nodes: [node])).id
        }
        try await repository.flush()
        summary.blobsAdded = ingester.blobsAdded
        summary.bytesAdded = ingester.bytesAdded
        summary.bytesStored = ingester.bytesStored
        summary.durationSeconds = Date().timeIntervalSince(started)
        return (try await save(item, tree: treeID, source: "directory", summary: summary), warnings)
    }

    static func syntheticFolder(_ name: [UInt8], time: Timespec) -> Node {
        var d = Node(name: name, type: .directory)
        d.mode = 0o755
        d.mtime = time; d.ctime = time
        d.user = "root"; d.group = "root"
        return d
    }
}
