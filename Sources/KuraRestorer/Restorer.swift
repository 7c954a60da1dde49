import Foundation
import KuraFileSystem
import KuraRepository
import Synchronization

/// How to restore.
public struct RestoreOptions: Sendable {
    /// Folder to restore into (created if missing).
    public var target: String
    /// Glob patterns; when non-empty only matching entries (and everything inside matching directories)
    /// are restored. A pattern without "/" matches names, one with "/" the absolute snapshot path.
    public var includes: [String] = []
    /// Files restored at the same time.
    public var parallelism = max(4, ProcessInfo.processInfo.activeProcessorCount * 2)
    /// Bytes of small files read ahead in batches from a remote store, held at once at most
    /// (``FolderPreloader``; the default is 32 MiB).
    public var preloadBudget = FolderPreloader.budgetBytes
    public init(target: String) { self.target = target }
}

/// What a restore did.
public struct RestoreResult: Sendable {
    public var files = 0
    public var directories = 0
    public var otherEntries = 0
    public var bytes: UInt64 = 0
    /// Entries that could not be restored, with the reason. Non-empty means exit code 1.
    public var errors: [String] = []
    /// Things that were restored differently (e.g. sockets skipped, owner not set as non-root).
    public var warnings: [String] = []
}

/// Restores a snapshot (or a part of it) into a folder: every entry kind, with mode, owner (by name
/// where the name exists here, else by number), nanosecond mtime, xattrs, hard links and holes.
/// Files are written with positioned writes, several at a time; directory metadata is set last.
public final class Restorer: Sendable {
    let repository: Repository
    let options: RestoreOptions
    let accounts = Accounts()
    let slots: AsyncLimiter
    /// Memory for small files read ahead in batches from a remote store (``FolderPreloader``).
    let preloadBudget: AsyncLimiter
    let isRoot = geteuid() == 0
    private let result = Mutex(RestoreResult())
    private let hardLinks = Mutex([HardLinkKey: Task<LinkSource?, Never>]())
    let progress: (@Sendable (RestoreResult) -> Void)?

    struct HardLinkKey: Hashable { var device: UInt64; var inode: UInt64 }
    struct LinkSource: Sendable { var dir: Descriptor; var name: [UInt8] }

    /// The --include patterns, parsed once; which of them selected something.
    let includes: PathMatcher
    private let usedPatterns = Mutex(Set<Int>())

    /// Throws a `.usage` error (exit 64) when an include pattern is invalid.
    public init(repository: Repository, options: RestoreOptions, progress: (@Sendable (RestoreResult) -> Void)? = nil) throws {
        self.includes = try PathMatcher(validating: options.includes, option: "--include")
        self.repository = repository
        self.options = options
        // A remote store is latency-bound: enough files in flight to keep its connections busy.
        let files = repository.store.isRemote ? max(options.parallelism, 2 * min(repository.store.maxConcurrentRequests, 64)) : options.parallelism
        self.slots = AsyncLimiter(capacity: max(1, files))
        self.preloadBudget = AsyncLimiter(capacity: max(1, options.preloadBudget))
        self.progress = progress
    }

    /// Restores `entry` of the snapshot. A directory's contents go into the target (the whole snapshot:
    /// the absolute paths are recreated under the target); a single file goes to target/NAME.
    public func restore(_ browser: SnapshotBrowser, entry: SnapshotEntry) async throws -> RestoreResult {
        let targetPath = Array(options.target.utf8)
        if mkdir(options.target, 0o700) != 0, errno != EEXIST {
            throw KuraError(.io, "cannot create the target folder \(options.target): \(String(cString: strerror(errno)))")
        }
        let target: Descriptor
        do { target = try Descriptor.openDirectory(targetPath, in: nil, path: targetPath) } catch {
            throw KuraError(.invalidArgument, "the target \(options.target) is not a folder that can be opened: \(error)")
        }
        let matcher = includes
        if let node = entry.node, node.type != .directory {
            if matcher.isEmpty || selects(matcher, path: entry.path, everything: false) {
                await restoreEntry(node, into: target, path: entry.path, display: joinPath(targetPath, node.name))
            }
        } else {
            let dir = LazyDirectory(existing: target, path: targetPath)
            _ = await restoreContents(of: entry, into: dir, matcher: matcher, everything: matcher.isEmpty)
        }
        // A pattern that selected nothing is almost always a mistake (a typo, or a path relative to
        // the wrong folder): say so, so that "restored 0 files" is never the only clue.
        let used = usedPatterns.withLock { $0 }
        for (i, text) in matcher.texts.enumerated() where !used.contains(i) {
            note(warning: "--include '\(text)' matched nothing in \(PathBytes.display(entry.path)) (patterns are explained in docs/patterns.md)")
        }
        return result.withLock { $0 }
    }

    /// Whether the entry at `path` is selected, remembering which patterns matched it. Inside a
    /// selected folder everything is, but patterns not yet seen to match are still tried there, so a
    /// pattern is reported as matching nothing only when it really matches nothing.
    private func selects(_ matcher: PathMatcher, path: [UInt8], everything: Bool) -> Bool {
        if matcher.isEmpty { return true }
        let used = usedPatterns.withLock { $0 }
        if everything && used.count == matcher.texts.count { return true }
        let hits = matcher.matchingPatterns(path: path)
        if !hits.isEmpty, !hits.allSatisfy(used.contains) { usedPatterns.withLock { $0.formUnion(hits) } }
        return everything || !hits.isEmpty
    }

    static func unsafeName(_ name: [UInt8]) -> KuraError {
        KuraError(.corrupt, "refusing the entry name \(PathBytes.display(name).debugDescription): it is not a single path component and could leave the target")
    }

    func note(error path: [UInt8], _ error: any Error) {
        result.withLock { $0.errors.append("\(PathBytes.display(path)): \(error)") }
    }

    func note(warning: String) { result.withLock { $0.warnings.append(warning) } }

    private func counted(_ node: Node) {
        let r: RestoreResult = result.withLock { r in
            switch node.type {
            case .file: r.files += 1; r.bytes += node.size
            case .directory: r.directories += 1
            default: r.otherEntries += 1
            }
            return r
        }
        progress?(r)
    }

    // MARK: - Directories

    /// Restores the children of `entry` into `dir`. Returns true when anything was restored (so the
    /// directory itself is created only when needed under --include).
    private func restoreContents(of entry: SnapshotEntry, into dir: LazyDirectory, matcher: PathMatcher, everything: Bool) async -> Bool {
        guard let treeID = entry.tree else { return false }
        let tree: Tree
        do { tree = try await repository.loadTree(treeID) } catch { note(error: entry.path, error); return false }
        if everything { _ = dir.open(onError: note) }
        let children = tree.nodes.map { node in
            (node, entry.path == [47] ? [47] + node.name : entry.path + [47] + node.name)
        }
        // From a remote store, the small files of a folder restored whole are read in batches (one
        // request per region of a pack, not one per file).
        let preloader = everything ? FolderPreloader(repository: repository, nodes: tree.nodes, budget: preloadBudget) : nil
        return await withTaskGroup(of: Bool.self) { group in
            var restoredAny = everything
            var next = 0
            func spawn() {
                let (node, path) = children[next]
                let index = next
                let loaded = preloader?.batch(forChild: index)
                next += 1
                group.addTask {
                    // The batch first, before any other resource (FolderPreloader: why this cannot deadlock).
                    let preloaded = await loaded?.value ?? [:]
                    defer { preloader?.finished(child: index) }
                    return await self.restoreChild(node, path: path, in: dir, matcher: matcher, everything: everything, preloaded: preloaded)
                }
            }
            while next < children.count, next < 32 { spawn() }
            while let r = await group.next() {
                restoredAny = restoredAny || r
                if next < children.count { spawn() }
            }
            return restoredAny
        }
    }

    private func restoreChild(_ node: Node, path: [UInt8], in dir: LazyDirectory, matcher: PathMatcher, everything: Bool,
                              preloaded: [BlobID: [UInt8]] = [:]) async -> Bool {
        // Every name is resolved relative to its folder's descriptor, without following links; a name
        // that is not one component ("..", "a/b") could leave the target, so it is never used.
        guard Node.isValidName(node.name) else { note(error: path, Restorer.unsafeName(node.name)); return false }
        let selected = selects(matcher, path: path, everything: everything)
        if node.type == .directory {
            guard selected || matcher.mayMatchInside(path) else { return false }
            let sub = LazyDirectory(parent: dir, name: node.name, path: joinPath(dir.path, node.name))
            let any = await restoreContents(of: SnapshotEntry(path: path, node: node, tree: node.subtree), into: sub, matcher: matcher, everything: selected)
            if any, let fd = sub.open(onError: note) {
                applyMetadata(node, fd: fd, display: sub.path)
                counted(node)
            }
            return any
        }
        guard selected, let parent = dir.open(onError: note) else { return false }
        await restoreEntry(node, into: parent, path: path, display: joinPath(dir.path, node.name), preloaded: preloaded)
        return true
    }

    // MARK: - Entries

    /// Restores one non-directory entry (or an empty directory node) into `dir`. `preloaded` holds
    /// blobs of its content already read (by a batch); the rest are loaded here.
    func restoreEntry(_ node: Node, into dir: Descriptor, path: [UInt8], display: [UInt8], preloaded: [BlobID: [UInt8]] = [:]) async {
        guard Node.isValidName(node.name) else { note(error: path, Restorer.unsafeName(node.name)); return }
        do {
            // Whatever is in the way is replaced, a folder with its contents included: the user asked
            // for this snapshot's entry at this name. The removal never follows a symlink and never
            // leaves the target (Descriptor.removeEntry). A file is written under a temporary name
            // first and only then renamed over what is there (restoreFile), so a restore that fails
            // midway leaves the old entry, not a truncated file.
            if node.type != .file, node.type != .directory { try dir.removeEntry(node.name, path: display) }
            switch node.type {
            case .file:
                await slots.acquire()
                defer { slots.release() }
                if node.links > 1 { try await restoreHardLinked(node, into: dir, display: display, preloaded: preloaded) } else {
                    try await restoreFile(node, into: dir, display: display, preloaded: preloaded)
                }
            case .directory:
                if mkdirat(dir.fd, cString(node.name), 0o700) != 0, errno != EEXIST { throw FileSystemError("mkdir", path: display, errno: errno) }
                let fd = try Descriptor.openDirectory(node.name, in: dir, path: display)
                applyMetadata(node, fd: fd, display: display)
            case .symlink:
                let rc = withCPath(node.linkTarget) { t in symlinkat(t, dir.fd, cString(node.name)) }
                guard rc == 0 else { throw FileSystemError("symlink", path: display, errno: errno) }
                applyLinkMetadata(node, dir: dir, display: display)
            case .fifo:
                guard mkfifoat(dir.fd, cString(node.name), mode_t(node.mode)) == 0 else { throw FileSystemError("mkfifo", path: display, errno: errno) }
                applyLinkMetadata(node, dir: dir, display: display)
            case .characterDevice, .blockDevice:
                let kind = node.type == .characterDevice ? S_IFCHR : S_IFBLK
                guard mknodat(dir.fd, cString(node.name), kind | mode_t(node.mode), dev_t(node.rdev)) == 0 else {
                    throw FileSystemError("mknod", path: display, errno: errno)
                }
                applyLinkMetadata(node, dir: dir, display: display)
            case .socket:
                note(warning: "\(PathBytes.display(path)): sockets are not restored (a program creates them when it starts)")
                return
            }
            counted(node)
        } catch {
            note(error: path, error)
        }
    }

    /// The first name of a hard-linked inode is restored as a file; the others wait for it and link to it.
    private func restoreHardLinked(_ node: Node, into dir: Descriptor, display: [UInt8], preloaded: [BlobID: [UInt8]]) async throws {
        let key = HardLinkKey(device: node.device, inode: node.inode)
        let (first, task) = hardLinks.withLock { map -> (Bool, Task<LinkSource?, Never>) in
            if let t = map[key] { return (false, t) }
            let t = Task<LinkSource?, Never> {
                do { try await self.restoreFile(node, into: dir, display: display, preloaded: preloaded); return LinkSource(dir: dir, name: node.name) } catch {
                    self.note(error: display, error); return nil
                }
            }
            map[key] = t
            return (true, t)
        }
        guard let source = await task.value else {
            if first { throw KuraError(.io, "could not restore the file") }
            try await restoreFile(node, into: dir, display: display, preloaded: preloaded)  // the first copy failed: restore this one on its own
            return
        }
        if first { return }
        try dir.removeEntry(node.name, path: display)
        guard linkat(source.dir.fd, cString(source.name), dir.fd, cString(node.name), 0) == 0 else {
            throw FileSystemError("link", path: display, errno: errno)
        }
    }

    /// Writes a file's chunks at their offsets (holes are skipped and stay holes), then its metadata,
    /// into an unnamed file in the same folder (`O_TMPFILE`, so a restore killed midway leaves nothing
    /// behind), or under a temporary name where the file system has no unnamed files; it gets its real
    /// name (through a temporary name and a rename, which replaces what was there atomically) only when
    /// it is complete. On failure the temporary file is removed and the error says the file was not restored.
    private func restoreFile(_ node: Node, into dir: Descriptor, display: [UInt8], preloaded: [BlobID: [UInt8]]) async throws {
        let temporary = Array(".kura-restore-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))".utf8)
        var oldRemoved = false
        do {
            let unnamed = try Descriptor.openUnnamed(in: dir, path: display, mode: 0o600)
            let file = try unnamed ?? Descriptor.open(temporary, in: dir, path: display, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
            var offset: Int64 = 0
            let chunks = node.content.filter { !$0.isHole }
            var offsets: [Int64] = []
            for e in node.content { if !e.isHole { offsets.append(offset) }; offset += Int64(e.length) }
            if chunks.count == node.content.count, node.size >= UInt64(DirectWriter.threshold) {
                // A large file without holes is written front to back around the page cache: the
                // restore neither pays the kernel's page-cache copy nor evicts the server's working set.
                var writer = DirectWriter(fd: file.fd, path: display)
                try await ContentStreamer(repository: repository, preloaded: preloaded).stream(chunks) { bytes in
                    try bytes.withUnsafeBytes { try writer.write($0) }
                }
                try writer.finish()
            } else {
                var index = 0
                try await ContentStreamer(repository: repository, preloaded: preloaded).stream(chunks) { bytes in
                    try bytes.withUnsafeBytes { try file.write($0, at: offsets[index]) }
                    index += 1
                }
            }
            guard ftruncate(file.fd, off_t(node.size)) == 0 else { throw FileSystemError("truncate", path: display, errno: errno) }
            applyMetadata(node, fd: file, display: display)
            if unnamed != nil { try file.link(as: temporary, in: dir, path: display) }
            if renameat(dir.fd, cString(temporary), dir.fd, cString(node.name)) != 0 {
                // A folder (or something else rename cannot replace) is in the way: remove it, then rename.
                guard errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR else {
                    throw FileSystemError("rename", path: display, errno: errno)
                }
                try dir.removeEntry(node.name, path: display)
                oldRemoved = true
                guard renameat(dir.fd, cString(temporary), dir.fd, cString(node.name)) == 0 else {
                    throw FileSystemError("rename", path: display, errno: errno)
                }
            }
        } catch {
            unlinkat(dir.fd, cString(temporary), 0)
            var e = KuraError.from(error)
            e.message += "; the file was not restored (its partial copy was removed" + (oldRemoved ? ")" : "; what was at that name before is unchanged)")
            throw e
        }
    }

    // MARK: - Metadata

    private func owner(_ node: Node) -> (uid: uid_t, gid: gid_t) {
        (accounts.uid(named: node.user) ?? node.uid, accounts.gid(named: node.group) ?? node.gid)
    }

    /// Owner, xattrs, mode, then times (in that order: chown clears setuid bits, writes change mtime).
    func applyMetadata(_ node: Node, fd: Descriptor, display: [UInt8]) {
        if isRoot {
            let o = owner(node)
            if fchown(fd.fd, o.uid, o.gid) != 0 { note(warning: "\(PathBytes.display(display)): cannot set owner: \(String(cString: strerror(errno)))") }
        }
        for x in node.xattrs {
            do { try ExtendedAttributes.set(fd: fd.fd, name: x.name, value: x.value, path: display) } catch {
                note(warning: "\(PathBytes.display(display)): \(error)")
            }
        }
        if fchmod(fd.fd, mode_t(node.mode)) != 0 { note(warning: "\(PathBytes.display(display)): cannot set mode: \(String(cString: strerror(errno)))") }
        var times = [timespec(tv_sec: Int(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds)),
                     timespec(tv_sec: Int(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds))]
        if futimens(fd.fd, &times) != 0 { note(warning: "\(PathBytes.display(display)): cannot set times: \(String(cString: strerror(errno)))") }
    }

    /// Metadata for entries that are not opened (symlinks, fifos, devices): by name, without following.
    private func applyLinkMetadata(_ node: Node, dir: Descriptor, display: [UInt8]) {
        if isRoot {
            let o = owner(node)
            if fchownat(dir.fd, cString(node.name), o.uid, o.gid, AT_SYMLINK_NOFOLLOW) != 0 {
                note(warning: "\(PathBytes.display(display)): cannot set owner: \(String(cString: strerror(errno)))")
            }
        }
        for x in node.xattrs {
            do { try ExtendedAttributes.set(linkPath: dir.procPath(node.name), name: x.name, value: x.value, displayPath: display) } catch {
                note(warning: "\(PathBytes.display(display)): \(error)")
            }
        }
        if node.type != .symlink, fchmodat(dir.fd, cString(node.name), mode_t(node.mode), 0) != 0 {
            note(warning: "\(PathBytes.display(display)): cannot set mode: \(String(cString: strerror(errno)))")
        }
        var times = [timespec(tv_sec: Int(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds)),
                     timespec(tv_sec: Int(node.mtime.seconds), tv_nsec: Int(node.mtime.nanoseconds))]
        if utimensat(dir.fd, cString(node.name), &times, AT_SYMLINK_NOFOLLOW) != 0 {
            note(warning: "\(PathBytes.display(display)): cannot set times: \(String(cString: strerror(errno)))")
        }
    }
}

/// A directory of the restore target that is created the first time something is restored into it.
final class LazyDirectory: Sendable {
    let parent: LazyDirectory?
    let name: [UInt8]
    let path: [UInt8]
    private let handle: Mutex<Descriptor?>
    private let failed = Mutex(false)

    init(existing: Descriptor, path: [UInt8]) { parent = nil; name = []; self.path = path; handle = Mutex(existing) }
    init(parent: LazyDirectory, name: [UInt8], path: [UInt8]) { self.parent = parent; self.name = name; self.path = path; handle = Mutex(nil) }

    /// The directory's descriptor, creating it (and its parents) on first use.
    func open(onError: ([UInt8], any Error) -> Void) -> Descriptor? {
        if let h = handle.withLock({ $0 }) { return h }
        guard let parentFD = parent?.open(onError: onError) else { return nil }
        return handle.withLock { h -> Descriptor? in
            if let h { return h }
            if failed.withLock({ $0 }) { return nil }
            if mkdirat(parentFD.fd, cString(name), 0o700) != 0 {
                var ok = errno == EEXIST
                if ok, (try? statAt(parentFD.fd, name, path: path))?.kind != .directory {
                    // A file or symlink is in the way of a folder: replace it (never follow it).
                    ok = unlinkat(parentFD.fd, cString(name), 0) == 0 && mkdirat(parentFD.fd, cString(name), 0o700) == 0
                }
                if !ok { onError(path, FileSystemError("mkdir", path: path, errno: errno)); failed.withLock { $0 = true }; return nil }
            }
            do { h = try Descriptor.openDirectory(name, in: parentFD, path: path) } catch {
                onError(path, error); failed.withLock { $0 = true }; return nil
            }
            return h
        }
    }
}

/// A NUL-terminated copy (for short names passed straight to a C call).
func cString(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }
