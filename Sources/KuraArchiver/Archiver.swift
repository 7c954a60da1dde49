import Foundation
import KuraFileSystem
import KuraRepository
import Synchronization

/// Backs up directory trees into a repository: walks them with `*at` calls, records every entry's
/// metadata, and feeds file content through the parallel `ContentSaver`.
///
/// Paths inside the snapshot are the absolute paths that were backed up: the root tree is "/".
public final class Archiver: Sendable {
    public static let programVersion = "kura 0.1.0"

    public let repository: Repository
    let options: BackupOptions
    let excluder: PathMatcher
    let accounts = Accounts()
    let fileSlots: AsyncLimiter
    let saver: ContentSaver
    let progressHandler: (@Sendable (BackupProgress) -> Void)?
    let log = Mutex(Log())

    struct Log {
        var progress = BackupProgress()
        /// When the progress handler was last called (uptime nanoseconds); it is called at most every
        /// ``progressInterval`` so that a tree of a million unchanged files does not format a million lines.
        var lastProgress: UInt64 = 0
        var summary = Snapshot.Summary()
        var errors: [Snapshot.ReadError] = []
        var warnings: [String] = []
    }

    public init(repository: Repository, options: BackupOptions, progress: (@Sendable (BackupProgress) -> Void)? = nil) {
        self.repository = repository
        self.options = options
        self.excluder = PathMatcher(options.excludes)
        self.fileSlots = AsyncLimiter(capacity: max(1, options.fileParallelism))
        self.saver = ContentSaver(repository: repository, inFlightBytes: options.inFlightBytes,
                                  parallelChunking: options.parallelChunking ?? (ProcessInfo.processInfo.activeProcessorCount > 2),
                                  readSize: options.readSize)
        self.progressHandler = progress
    }

    // MARK: - Entry point

    /// Runs the backup and saves the snapshot. Unreadable entries do not stop it: they are listed in
    /// the result and the snapshot is marked incomplete (exit code 3).
    public func run() async throws -> BackupResult {
        // An invalid --exclude is a usage error (exit 64), found before anything is locked or read.
        try PathMatcher.validate(options.excludes, option: "--exclude")
        return try await repository.withLock(.shared) { _ in try await runLocked() }
    }

    private func runLocked() async throws -> BackupResult {
        let started = Date()
        let paths = try options.paths.map { try Archiver.absolutePath($0) }
        guard !paths.isEmpty else { throw KuraError(.invalidArgument, "no paths to back up", hint: "name at least one file or directory") }
        for p in paths {
            let status: FileStatus
            do { status = try statPath(p) } catch {
                throw KuraError(.notFound, "cannot back up \(PathBytes.display(p)): \(error)", hint: "check the path; nothing was saved")
            }
            if status.kind == .symlink {
                log.withLock { $0.warnings.append("\(PathBytes.display(p)) is a symlink: it is stored as a link, and what it points to is not backed up; name the folder it leads to instead (symlinked folders above a path are followed)") }
            }
        }
        // Drop paths inside other given paths, then build the chain of directories from "/".
        let sorted = Array(Set(paths)).sorted { $0.lexicographicallyPrecedes($1) }
        var roots: [[UInt8]] = []
        for p in sorted where !roots.contains(where: { isInside(p, $0) }) { roots.append(p) }
        let top = VirtualDirectory()
        for r in roots {
            var dir = top
            let comps = PathBytes.components(r)
            if comps.isEmpty { top.isReal = true; continue }
            for (i, c) in comps.enumerated() {
                if i == comps.count - 1 { dir.children[c] = .real } else {
                    if case .directory(let d)? = dir.children[c] { dir = d } else {
                        let d = VirtualDirectory(); dir.children[c] = .directory(d); dir = d
                    }
                }
            }
        }

        try await verifyIndex()
        try await repository.loadIndex()
        let displayPaths = roots.map { PathBytes.display($0) }
        let parent = try await findParent(paths: displayPaths)
        let parentTree = options.forceReread ? nil : parent?.treeID
        let rootTree: BlobID
        if top.isReal {
            let root = try Descriptor.openDirectory([47], in: nil, path: [47])
            let st = try statDescriptor(root.fd, path: [47])
            rootTree = try await directoryTree(root, path: [], device: st.device, parent: parentTree)
        } else {
            rootTree = try await virtualTree(top, path: [], in: try Descriptor.openDirectory([47], in: nil, path: [47]), parent: parentTree)
        }
        try await repository.flush()

        var snapshot = Snapshot(time: options.time ?? started, host: options.host ?? Host.name, username: Host.userName,
                                paths: displayPaths, tree: rootTree, program: Archiver.programVersion)
        snapshot.parent = parent?.id?.hex
        snapshot.tags = options.tags
        snapshot.excludes = options.excludes
        let (summary, errors, warnings) = log.withLock { ($0.summary, $0.errors, $0.warnings) }
        snapshot.summary = finalSummary(summary, started: started)
        snapshot.incomplete = !errors.isEmpty
        snapshot.errors = errors
        snapshot = try await repository.saveSnapshot(snapshot)
        return BackupResult(snapshot: snapshot, errors: errors, warnings: warnings)
    }

    /// With --force-reread, or after `check` found missing packs: the index must not vouch for packs the
    /// storage lost, or this backup would dedup against their chunks and be damaged too.
    func verifyIndex() async throws {
        let dropped = try await repository.verifyIndexBeforeBackup(force: options.forceReread)
        if !dropped.isEmpty {
            log.withLock { $0.warnings.append("the index listed \(dropped.count) pack\(dropped.count == 1 ? "" : "s") that the storage no longer holds; they were dropped from the index and their chunks stored again where this backup has them (run `kura repair snapshots` for older snapshots)") }
        }
    }

    /// Adds the content counters and duration to a summary.
    func finalSummary(_ base: Snapshot.Summary, started: Date) -> Snapshot.Summary {
        var s = base
        let t = saver.totals
        s.blobsAdded = t.blobsAdded
        s.bytesAdded = t.bytesAdded
        s.bytesStored = t.bytesStored
        s.durationSeconds = Date().timeIntervalSince(started)
        return s
    }

    /// Makes a path absolute (against the working directory) and removes ".", ".." and repeated "/".
    static func absolutePath(_ path: String) throws -> [UInt8] {
        var bytes = Array(path.utf8)
        if bytes.first != 47 { bytes = Array(FileManager.default.currentDirectoryPath.utf8) + [47] + bytes }
        var out: [[UInt8]] = []
        for c in PathBytes.components(bytes) {
            if c == [46] { continue }
            if c == [46, 46] { if !out.isEmpty { out.removeLast() }; continue }
            out.append(c)
        }
        return PathBytes.join(out)
    }

    private func isInside(_ p: [UInt8], _ dir: [UInt8]) -> Bool {
        dir == [47] || (p.count > dir.count && p.starts(with: dir) && p[dir.count] == 47)
    }

    // MARK: - Bookkeeping

    func recordError(_ path: [UInt8], _ error: any Error) {
        let message = (error as? FileSystemError).map { "\($0.operation): \($0.reason)" } ?? String(describing: error)
        log.withLock { l in
            l.errors.append(Snapshot.ReadError(path: PathBytes.display(path), message: message))
            l.progress.errors += 1
        }
    }

    func recordWarning(_ text: String) { log.withLock { $0.warnings.append(text) } }

    func count(_ node: Node, path: [UInt8]) {
        let now = progressHandler == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        let p: BackupProgress? = log.withLock { l in
            switch node.type {
            case .file: l.summary.files += 1; l.summary.totalBytes += node.size; l.progress.files += 1
            case .directory: l.summary.directories += 1; l.progress.directories += 1
            default: l.summary.otherEntries += 1
            }
            guard progressHandler != nil, now &- l.lastProgress >= Archiver.progressInterval else { return nil }
            l.lastProgress = now
            l.progress.bytesRead = saver.totals.bytesRead
            l.progress.bytesNew = saver.totals.bytesAdded
            if node.type == .file { l.progress.currentPath = PathBytes.display(path) }
            return l.progress
        }
        if let p { progressHandler?(p) }
    }

    /// Least time between two calls of the progress handler (50 ms).
    static let progressInterval: UInt64 = 50_000_000

    // MARK: - Trees

    /// The directories above the backed-up paths: metadata from the real directories, children only
    /// the ones that lead to a backed-up path.
    /// The folders above the backed-up paths: `parent` is the open folder at `path`. A folder above a
    /// backup path may be a symlink (`/var/run` → `/run`, a Docker root moved to another disk): it is
    /// followed, as restic and tar do, and stored under the name given, with the metadata of the folder
    /// it leads to. The backed-up paths themselves are never followed (a symlink given is stored as one).
    private func virtualTree(_ dir: VirtualDirectory, path: [[UInt8]], in parent: Descriptor, parent parentID: BlobID?) async throws -> BlobID {
        let previous = await loadParentTree(parentID)
        var nodes: [Node] = []
        for (name, child) in dir.children.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let childPath = PathBytes.join(path + [name])
            switch child {
            case .real:
                let status: FileStatus
                do { status = try statAt(parent.fd, name, path: childPath) } catch { recordError(childPath, error); continue }
                if let node = try await entryNode(name, in: parent, path: childPath, status: status, device: status.device,
                                              previous: previous?.node(named: name)) { nodes.append(node) }
            case .directory(let sub):
                let folder: Descriptor, status: FileStatus
                do {
                    folder = try Descriptor.openDirectoryFollowing(name, in: parent, path: childPath)
                    status = try statDescriptor(folder.fd, path: childPath)
                } catch { recordError(childPath, error); continue }
                var node = metadataNode(name, status: status)
                node.xattrs = readXattrs(fd: folder.fd, path: childPath)
                node.subtree = try await virtualTree(sub, path: path + [name], in: folder, parent: previous?.node(named: name)?.subtree)
                nodes.append(node)
            }
        }
        return try await repository.saveTree(Tree(nodes: nodes)).id
    }

    /// Saves the tree of an open directory, recursing into subdirectories. Children are processed
    /// concurrently, a bounded number at a time.
    func directoryTree(_ dir: Descriptor, path: [UInt8], device: UInt64, parent parentID: BlobID?) async throws -> BlobID {
        let previous = await loadParentTree(parentID)
        let names: [[UInt8]]
        do { names = try dir.directoryEntries() } catch { recordError(path.isEmpty ? [47] : path, error); names = [] }
        var entries: [([UInt8], [UInt8], FileStatus)] = []
        entries.reserveCapacity(names.count)
        for name in names {
            let childPath = joinPath(path.isEmpty ? [47] : path, name)
            if excluder.matches(name: name, path: childPath) { continue }
            do { entries.append((name, childPath, try statAt(dir.fd, name, path: childPath))) } catch { recordError(childPath, error) }
        }
        let window = 32
        let nodes = try await withThrowingTaskGroup(of: (Int, Node?).self) { group in
            var results = [Node?](repeating: nil, count: entries.count)
            var next = 0, running = 0
            // Unchanged files are decided here, without a task each (most entries of a no-change
            // backup); everything else runs on up to `window` tasks.
            func fill() {
                while next < entries.count, running < window {
                    let i = next, (name, childPath, status) = entries[i]
                    next += 1
                    let old = previous?.node(named: name)
                    if let old, let node = unchangedFile(name, path: childPath, status: status, previous: old) {
                        results[i] = node
                        continue
                    }
                    running += 1
                    group.addTask { (i, try await self.entryNode(name, in: dir, path: childPath, status: status, device: device, previous: old)) }
                }
            }
            fill()
            while let (i, node) = try await group.next() {
                running -= 1
                results[i] = node
                fill()
            }
            return results.compactMap { $0 }
        }
        let tree = Tree(nodes: nodes)
        // Nothing in this folder changed (its entries, their metadata, the subtrees below): the tree is
        // the parent's, byte for byte. Reuse its id instead of encoding and hashing it again; it is in
        // the index (it was just loaded through it), and the unchanged files' chunks were checked.
        if let parentID, let previous, tree == previous { return parentID }
        return try await repository.saveTree(tree).id
    }

    // MARK: - Change detection

    /// The snapshot to compare with: `options.parent` if given, else the newest snapshot of this host
    /// with the same paths.
    func findParent(paths: [String]) async throws -> Snapshot? {
        if let ref = options.parent { return try await repository.findSnapshot(ref) }
        let host = options.host ?? Host.name
        return try await repository.listSnapshots().last { $0.host == host && $0.source == "directory" && $0.paths.sorted() == paths.sorted() }
    }

    /// The parent's version of a directory, or nil (missing, unreadable: then everything is read).
    func loadParentTree(_ id: BlobID?) async -> Tree? {
        guard let id else { return nil }
        return try? await repository.loadTree(id)
    }

    /// A file is unchanged when its size, mtime, ctime, inode and device match the parent's record.
    static func isUnchanged(_ old: Node, _ new: Node) -> Bool {
        old.type == .file && old.size == new.size && old.mtime == new.mtime && old.ctime == new.ctime
            && old.inode == new.inode && old.device == new.device
    }

    // MARK: - Entries

    /// Metadata common to every kind of entry, from lstat.
    func metadataNode(_ name: [UInt8], status: FileStatus) -> Node {
        let type: NodeType
        switch status.kind {
        case .regular: type = .file
        case .directory: type = .directory
        case .symlink: type = .symlink
        case .fifo: type = .fifo
        case .characterDevice: type = .characterDevice
        case .blockDevice: type = .blockDevice
        case .socket, .unknown: type = .socket
        }
        var n = Node(name: name, type: type)
        n.mode = status.permissions
        n.uid = status.uid; n.gid = status.gid
        n.user = accounts.userName(status.uid); n.group = accounts.groupName(status.gid)
        n.mtime = Timespec(seconds: status.mtimeSeconds, nanoseconds: status.mtimeNanoseconds)
        n.ctime = Timespec(seconds: status.ctimeSeconds, nanoseconds: status.ctimeNanoseconds)
        n.inode = status.inode; n.device = status.device; n.links = UInt32(truncatingIfNeeded: status.links)
        n.size = type == .file || type == .symlink ? UInt64(max(0, status.size)) : 0
        n.rdev = status.rdev
        return n
    }

    func readXattrs(fd: Int32, path: [UInt8]) -> [ExtendedAttribute] {
        do { return try ExtendedAttributes.read(fd: fd, path: path).map { ExtendedAttribute(name: $0.name, value: $0.value) } } catch {
            recordWarning("cannot read extended attributes of \(PathBytes.display(path)): \(error)")
            return []
        }
    }

    /// One entry of a directory as a node, or nil when it could not be read (recorded as an error).
    /// Errors reading the source (FileSystemError) are recorded and the entry left out; any other error
    /// (the repository could not be written: full, read-only, gone) aborts the backup, so that no
    /// snapshot can refer to data that was not stored.
    /// The node of a regular file that has the same size, mtime, ctime and inode as in the parent
    /// snapshot (and whose chunks the repository has): the parent's chunk list (and xattrs, whose
    /// changes move ctime), without opening the file. Nil when the file must be read.
    func unchangedFile(_ name: [UInt8], path: [UInt8], status: FileStatus, previous: Node) -> Node? {
        guard status.kind == .regular else { return nil }
        var node = metadataNode(name, status: status)
        guard Archiver.isUnchanged(previous, node), previous.content.allSatisfy({ $0.id.map(repository.contains) ?? true }) else { return nil }
        node.content = previous.content
        node.xattrs = previous.xattrs
        log.withLock { $0.summary.filesUnchanged += 1 }
        count(node, path: path)
        return node
    }

    func entryNode(_ name: [UInt8], in dir: Descriptor, path: [UInt8], status: FileStatus, device: UInt64, previous: Node?) async throws -> Node? {
        if let previous, let node = unchangedFile(name, path: path, status: status, previous: previous) { return node }
        var node = metadataNode(name, status: status)
        do {
            switch status.kind {
            case .regular:
                await fileSlots.acquire()
                defer { fileSlots.release() }
                let file = try Descriptor.openForReading(name, in: dir, path: path)
                let before = try statDescriptor(file.fd, path: path)
                guard before.kind == .regular else { throw FileSystemError("open", path: path, errno: EINVAL) }
                node = metadataNode(name, status: before)
                node.xattrs = readXattrs(fd: file.fd, path: path)
                let (extents, length) = try await fileContent(file, status: before)
                node.content = extents
                let after = try statDescriptor(file.fd, path: path)
                if before.size == 0, after.size == 0, length > 0 {
                    node.size = length  // a pseudo-file (/proc, /sys): its size is what was read
                } else if length != UInt64(before.size) || after.size != before.size
                    || (after.mtimeSeconds, after.mtimeNanoseconds) != (before.mtimeSeconds, before.mtimeNanoseconds) {
                    recordWarning("\(PathBytes.display(path)) changed while it was read; the snapshot has the bytes as read")
                    node.size = length
                }
            case .directory:
                let sub = try Descriptor.openDirectory(name, in: dir, path: path)
                node.xattrs = readXattrs(fd: sub.fd, path: path)
                if options.oneFileSystem, status.device != device {
                    node.subtree = try await repository.saveTree(Tree(nodes: [])).id
                } else {
                    node.subtree = try await directoryTree(sub, path: path, device: device, parent: previous?.type == .directory ? previous?.subtree : nil)
                }
            case .symlink:
                node.linkTarget = try readLinkAt(dir.fd, name, path: path)
                node.xattrs = (try? ExtendedAttributes.read(linkPath: dir.procPath(name), displayPath: path))?.map { ExtendedAttribute(name: $0.name, value: $0.value) } ?? []
            case .fifo, .characterDevice, .blockDevice:
                node.xattrs = (try? ExtendedAttributes.read(linkPath: dir.procPath(name), displayPath: path))?.map { ExtendedAttribute(name: $0.name, value: $0.value) } ?? []
            case .socket, .unknown:
                break
            }
        } catch let error as FileSystemError {
            recordError(path, error)
            return nil
        }
        count(node, path: path)
        return node
    }

    /// A regular file's content as extents; holes of sparse files are found with SEEK_DATA/SEEK_HOLE
    /// and recorded without reading them.
    private func fileContent(_ file: Descriptor, status: FileStatus) async throws -> ([Extent], UInt64) {
        guard status.size > 0 else {
            // Size 0 does not always mean empty: files of /proc and /sys report 0 and have content.
            // One read tells; whatever is there is stored.
            var reader = FileRegionReader(descriptor: file, offset: 0, remaining: Int64.max)
            return try await saver.save(&reader, expectedLength: 0)
        }
        let whole: [(offset: Int64, length: Int64)] = [(0, status.size)]
        let regions = status.mayBeSparse ? (file.dataRegions(size: status.size) ?? whole) : whole
        var extents: [Extent] = []
        var position: Int64 = 0
        var length: UInt64 = 0
        for (offset, count) in regions {
            if offset > position { extents.append(Extent(holeOf: UInt64(offset - position))); length += UInt64(offset - position) }
            var reader = FileRegionReader(descriptor: file, offset: offset, remaining: count)
            let (e, n) = try await saver.save(&reader, expectedLength: count)
            extents += e
            length += n
            position = offset + count
            if n < UInt64(count) { return (extents, length) }  // shrank while read
        }
        if position < status.size { extents.append(Extent(holeOf: UInt64(status.size - position))); length += UInt64(status.size - position) }
        return (extents, length)
    }
}

/// A directory above the backed-up paths.
final class VirtualDirectory: @unchecked Sendable {
    enum Child { case real, directory(VirtualDirectory) }
    var children: [[UInt8]: Child] = [:]
    /// True when "/" itself was given.
    var isReal = false
}
