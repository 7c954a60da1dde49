import KuraCore
import KuraFileSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An ``ObjectStore`` in a local directory tree: the object `data/ab/cd` is the file `<root>/data/ab/cd`.
///
/// - Writes go to a temporary file `.tmp-<random>` in the object's directory, which is written, `fsync`ed,
///   renamed over the object and then the directory is `fsync`ed: a crash leaves the old object or the new
///   one, and a returned ``put(_:data:)`` survives a crash. On failure the temporary file is removed.
/// - Files are created mode 0600 and directories 0700 whatever the umask (both are set explicitly).
/// - ``delete(_:)`` removes directories the deletion left empty, so a key that was a directory can become
///   an object again (as in every other store).
/// - Symbolic links and entries whose names are not valid key components (including leftover temporary
///   files) are not objects: they are never listed, and reading them reports ``ObjectStoreError/Code/notFound``.
///
/// All work is done with blocking system calls relative to a descriptor of the root directory, opened once.
public final class LocalStore: ObjectStore {
    /// The root directory's path, as given to ``init(path:create:)``.
    public let location: String

    /// Eight: enough to keep a disk (or an NFS mount) busy without a pile of concurrent fsyncs.
    public var maxConcurrentRequests: Int { 8 }

    /// The open root directory; every path below is resolved relative to it.
    private let root: Int32

    /// Test seam: called at each ``PutStep`` of a put; whatever it throws aborts the put there.
    let faultInjection: (@Sendable (PutStep) throws -> Void)?

    /// The points in ``put(_:data:)`` where ``faultInjection`` is called.
    enum PutStep: Sendable, CaseIterable {
        case temporaryFileCreated, dataWritten, beforeRename
    }

    /// How often a put starts over because a directory it was using was removed by a concurrent delete.
    private static let maximumAttempts = 32

    /// Opens a store rooted at `path`. With `create: true` creates the root (0700, parents as needed); otherwise
    /// throws .notFound if the root is missing.
    public convenience init(path: String, create: Bool = false) throws {
        try self.init(path: path, create: create, faultInjection: nil)
    }

    /// Opens a store whose puts call `faultInjection` at each ``PutStep`` (for tests).
    init(path: String, create: Bool, faultInjection: (@Sendable (PutStep) throws -> Void)?) throws {
        location = path
        self.faultInjection = faultInjection
        if create { try Self.createDirectories(path) }
        do {
            root = try SystemCall.run("open") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        } catch {
            switch error.errno {
            case ENOENT: throw ObjectStoreError(error, doing: "no store here", key: nil, location: path)
            case ENOTDIR: throw ObjectStoreError(error, doing: "no store here", key: nil, location: path, code: .notFound)
            default: throw ObjectStoreError(error, doing: "cannot open the store", key: nil, location: path)
            }
        }
    }

    deinit { SystemCall.closeQuietly(root) }

    // MARK: - Writing

    /// Creates or replaces `key` atomically: readers see the old object, or the whole new one, never a part.
    /// Durable when it returns (local: temp file in the same directory, write, fsync, rename, fsync the directory).
    /// Creates missing directories (0700); throws ``ObjectStoreError/Code/alreadyExists`` if the key clashes
    /// with an object where a directory is needed, or with objects stored below it.
    public func put(_ key: String, data: [UInt8]) async throws {
        let key = try ObjectKey(key, location: location)
        // write + fsync blocks for milliseconds: do it on a thread of its own, not on one of the few
        // threads of Swift's cooperative pool (which the CPU-bound pipeline needs).
        try await BlockingThreads.run {
            for _ in 0..<Self.maximumAttempts {
                if try self.putOnce(key, data) { return }
            }
            throw ObjectStoreError(.io, key: key.string, location: self.location,
                                   message: "gave up: its directory was removed \(Self.maximumAttempts) times while writing")
        }
    }

    /// One attempt at a put; false if a directory vanished under it (a concurrent delete removed it as empty).
    private func putOnce(_ key: ObjectKey, _ data: [UInt8]) throws -> Bool {
        guard let directory = try openParent(of: key) else { return false }
        defer { SystemCall.closeQuietly(directory) }

        var temporaryName: String
        var fd: Int32
        repeat {
            temporaryName = ".tmp-" + String(UInt64.random(in: .min ... .max), radix: 16)
            do {
                fd = try SystemCall.run("openat") {
                    openat(directory, temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                }
            } catch {
                switch error.errno {
                case EEXIST: fd = -1
                case ENOENT: return false
                default: throw failure(error, "cannot create temporary file", key)
                }
            }
        } while fd < 0

        var renamed = false
        defer {
            if fd >= 0 { SystemCall.closeQuietly(fd) }
            if !renamed { _ = unlinkat(directory, temporaryName, 0) }
        }
        try faultInjection?(.temporaryFileCreated)
        do {
            try SystemCall.run("fchmod") { fchmod(fd, 0o600) }
        } catch {
            throw failure(error, "cannot write temporary file", key)
        }
        do {
            // Large objects (packs) bypass the page cache where the file system allows it.
            if data.count >= DirectWriter.threshold {
                var writer = DirectWriter(fd: fd, path: Array(key.string.utf8))
                try data.withUnsafeBytes { try writer.write($0) }
                try writer.finish()
            } else {
                try SystemCall.write(fd, data)
            }
        } catch let error as SystemCallError {
            throw failure(error, "cannot write temporary file", key)
        } catch let error as FileSystemError {
            throw failure(SystemCallError(call: error.operation, errno: error.errno), "cannot write temporary file", key)
        } catch {
            throw ObjectStoreError(.io, key: key.string, location: location, message: "cannot write temporary file: \(error)")
        }
        try faultInjection?(.dataWritten)
        do {
            try SystemCall.run("fsync") { fsync(fd) }
        } catch {
            throw failure(error, "cannot flush temporary file to disk", key)
        }
        let written = fd
        fd = -1
        if close(written) != 0, errno != EINTR {
            throw failure(SystemCallError(call: "close", errno: errno), "cannot close temporary file", key)
        }
        try faultInjection?(.beforeRename)
        try rename(temporaryName, over: key, in: directory)
        renamed = true
        do {
            try SystemCall.run("fsync") { fsync(directory) }
        } catch {
            throw failure(error, "object replaced, but its directory could not be flushed to disk", key)
        }
        return true
    }

    /// Renames the temporary file over the object. An empty directory in the object's place (left by a crash)
    /// is removed; a non-empty one means objects exist below the key.
    private func rename(_ temporaryName: String, over key: ObjectKey, in directory: Int32) throws(ObjectStoreError) {
        let name = String(key.name)
        do {
            try SystemCall.run("renameat") { renameat(directory, temporaryName, directory, name) }
            return
        } catch where [EISDIR, ENOTEMPTY, EEXIST].contains(error.errno) {
            guard unlinkat(directory, name, AT_REMOVEDIR) == 0 else {
                throw ObjectStoreError(.alreadyExists, key: key.string, location: location,
                                       message: "cannot store an object here: objects exist below this key")
            }
        } catch {
            throw failure(error, "cannot rename temporary file into place", key)
        }
        do {
            try SystemCall.run("renameat") { renameat(directory, temporaryName, directory, name) }
        } catch {
            throw failure(error, "cannot rename temporary file into place", key)
        }
    }

    /// Opens (creating as needed) the directory that holds `key`; nil if a directory vanished on the way.
    private func openParent(of key: ObjectKey) throws(ObjectStoreError) -> Int32? {
        var fd: Int32
        do {
            fd = try SystemCall.run("openat") { openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        } catch {
            throw failure(error, "cannot open the store's root directory", key)
        }
        var path = ""
        for component in key.parents {
            let name = String(component)
            path += path.isEmpty ? name : "/" + name
            var created = false
            do {
                try SystemCall.run("mkdirat") { mkdirat(fd, name, 0o700) }
                created = true
            } catch {
                switch error.errno {
                case EEXIST: break
                case ENOENT: SystemCall.closeQuietly(fd); return nil
                default: SystemCall.closeQuietly(fd); throw failure(error, "cannot create directory \"\(path)\"", key)
                }
            }
            let next: Int32
            do {
                next = try SystemCall.run("openat") { openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            } catch {
                SystemCall.closeQuietly(fd)
                switch error.errno {
                case ENOENT: return nil
                case ENOTDIR:
                    throw ObjectStoreError(.alreadyExists, key: key.string, location: location,
                                           message: "cannot store an object here: \"\(path)\" is an object, not a directory")
                default: throw failure(error, "cannot open directory \"\(path)\"", key)
                }
            }
            if created {
                // The mode must not depend on the umask, and the new entry must survive a crash.
                do {
                    try SystemCall.run("fchmod") { fchmod(next, 0o700) }
                    try SystemCall.run("fsync") { fsync(fd) }
                } catch {
                    SystemCall.closeQuietly(next)
                    SystemCall.closeQuietly(fd)
                    throw failure(error, "cannot set up new directory \"\(path)\"", key)
                }
            }
            SystemCall.closeQuietly(fd)
            fd = next
        }
        return fd
    }

    // MARK: - Reading

    /// The whole object; ``ObjectStoreError/Code/notFound`` if absent.
    public func get(_ key: String) async throws -> [UInt8] {
        try read(ObjectKey(key, location: location), range: nil)
    }

    /// Bytes in `range` of the object; ObjectStoreError(.rangeNotSatisfiable) if it reaches past the end.
    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try read(ObjectKey(key, location: location), range: range)
    }

    /// Reads `range` (or everything) of the object with `pread`.
    private func read(_ key: ObjectKey, range: Range<Int>?) throws(ObjectStoreError) -> [UInt8] {
        let fd: Int32
        do {
            // O_NONBLOCK: a FIFO someone left in the tree must not hang us; it is no object anyway.
            fd = try SystemCall.run("openat") {
                openat(root, key.string, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            }
        } catch {
            switch error.errno {
            case ENOENT, ENOTDIR, ELOOP: throw failure(error, "no such object", key, code: .notFound)
            default: throw failure(error, "cannot open", key)
            }
        }
        defer { SystemCall.closeQuietly(fd) }
        var info = SystemCall.FileStatus()
        do {
            try SystemCall.run("fstat") { fstat(fd, &info) }
        } catch {
            throw failure(error, "cannot stat", key)
        }
        guard SystemCall.isRegularFile(info.st_mode) else {
            throw ObjectStoreError(.notFound, key: key.string, location: location,
                                   message: "no such object (a directory or special file is in its place)")
        }
        let size = Int(info.st_size)
        let wanted = range ?? 0..<size
        try ObjectRange.check(wanted, size: size, key: key.string, location: location)
        let bytes: [UInt8]
        do {
            bytes = try SystemCall.read(fd, offset: wanted.lowerBound, count: wanted.count)
        } catch {
            throw failure(error, "cannot read", key)
        }
        guard bytes.count == wanted.count else {
            throw ObjectStoreError(.io, key: key.string, location: location,
                                   message: "the file ended after \(wanted.lowerBound + bytes.count) of \(size) bytes")
        }
        return bytes
    }

    /// The object's key and size; ``ObjectStoreError/Code/notFound`` if absent.
    public func stat(_ key: String) async throws -> ObjectInfo {
        let key = try ObjectKey(key, location: location)
        var info = SystemCall.FileStatus()
        do {
            try SystemCall.run("fstatat") { fstatat(root, key.string, &info, AT_SYMLINK_NOFOLLOW) }
        } catch {
            switch error.errno {
            case ENOENT, ENOTDIR: throw failure(error, "no such object", key, code: .notFound)
            default: throw failure(error, "cannot stat", key)
            }
        }
        guard SystemCall.isRegularFile(info.st_mode) else {
            throw ObjectStoreError(.notFound, key: key.string, location: location,
                                   message: "no such object (a directory or special file is in its place)")
        }
        return ObjectInfo(key: key.string, size: Int(info.st_size))
    }

    // MARK: - Listing

    /// Every object whose key starts with `prefix` (at any depth), sorted by key. "" lists everything.
    public func list(prefix: String) async throws -> [ObjectInfo] {
        try ObjectKey.validatePrefix(prefix, location: location)
        // Start in the prefix's directory part; its last part filters that directory's entries.
        let directory: String, namePrefix: String
        if let slash = prefix.lastIndex(of: "/") {
            directory = String(prefix[..<slash])
            namePrefix = String(prefix[prefix.index(after: slash)...])
        } else {
            (directory, namePrefix) = ("", prefix)
        }
        let fd: Int32
        do {
            fd = try SystemCall.run("openat") {
                openat(root, directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            }
        } catch {
            switch error.errno {
            case ENOENT, ENOTDIR: return []
            default: throw ObjectStoreError(error, doing: "cannot open directory to list", key: prefix, location: location)
            }
        }
        var found: [ObjectInfo] = []
        try walk(fd, keyPrefix: directory.isEmpty ? "" : directory + "/", namePrefix: namePrefix, into: &found)
        found.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return found
    }

    /// Appends the objects in the directory `fd` (which it takes over and closes) and below it, whose names
    /// in this directory start with `namePrefix`.
    private func walk(_ fd: Int32, keyPrefix: String, namePrefix: String,
                      into found: inout [ObjectInfo]) throws(ObjectStoreError) {
        guard let stream = fdopendir(fd) else {
            let error = SystemCallError(call: "fdopendir", errno: errno)
            SystemCall.closeQuietly(fd)
            throw ObjectStoreError(error, doing: "cannot list directory", key: keyPrefix, location: location)
        }
        defer { closedir(stream) }
        let directory = dirfd(stream)
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 {
                    throw ObjectStoreError(SystemCallError(call: "readdir", errno: errno), doing: "cannot list directory",
                                           key: keyPrefix, location: location)
                }
                return
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            // Skips ".", "..", temporary files and anything no key could name.
            guard ObjectKey.isValidComponent(name), name.utf8.starts(with: namePrefix.utf8) else { continue }
            let key = keyPrefix + name
            guard key.utf8.count <= ObjectKey.maximumLength else { continue }
            var info = SystemCall.FileStatus()
            do {
                try SystemCall.run("fstatat") { fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) }
            } catch {
                if error.errno == ENOENT { continue }   // deleted while we listed
                throw ObjectStoreError(error, doing: "cannot stat while listing", key: key, location: location)
            }
            if SystemCall.isRegularFile(info.st_mode) {
                found.append(ObjectInfo(key: key, size: Int(info.st_size)))
            } else if SystemCall.isDirectory(info.st_mode) {
                let child: Int32
                do {
                    child = try SystemCall.run("openat") {
                        openat(directory, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                    }
                } catch {
                    if error.errno == ENOENT || error.errno == ENOTDIR { continue }
                    throw ObjectStoreError(error, doing: "cannot open directory to list", key: key, location: location)
                }
                try walk(child, keyPrefix: key + "/", namePrefix: "", into: &found)
            }
        }
    }

    // MARK: - Deleting

    /// Removes the object, then the directories that became empty. ObjectStoreError(.notFound) if absent.
    public func delete(_ key: String) async throws {
        let key = try ObjectKey(key, location: location)
        do {
            try SystemCall.run("unlinkat") { unlinkat(root, key.string, 0) }
        } catch {
            switch error.errno {
            case ENOENT, ENOTDIR, EISDIR: throw failure(error, "no such object", key, code: .notFound)
            default: throw failure(error, "cannot delete", key)
            }
        }
        // Remove emptied directories bottom-up; stop at the first that is not empty (or already gone).
        var depth = key.parents.count
        while depth > 0, unlinkat(root, key.components[..<depth].joined(separator: "/"), AT_REMOVEDIR) == 0 {
            depth -= 1
        }
        // Make the removal durable: flush the deepest directory that lost an entry and still exists.
        let directory = depth == 0 ? "." : key.components[..<depth].joined(separator: "/")
        let fd: Int32
        do {
            fd = try SystemCall.run("openat") { openat(root, directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        } catch {
            if error.errno == ENOENT { return }   // a concurrent delete removed it and flushes its parent
            throw failure(error, "object deleted, but its directory could not be opened to flush it", key)
        }
        defer { SystemCall.closeQuietly(fd) }
        do {
            try SystemCall.run("fsync") { fsync(fd) }
        } catch {
            throw failure(error, "object deleted, but its directory could not be flushed to disk", key)
        }
    }

    // MARK: - Helpers

    private func failure(_ error: SystemCallError, _ what: String, _ key: ObjectKey,
                         code: ObjectStoreError.Code? = nil) -> ObjectStoreError {
        ObjectStoreError(error, doing: what, key: key.string, location: location, code: code)
    }

    /// `mkdir -p` with mode 0700 for every directory it creates, each made durable in its parent.
    private static func createDirectories(_ path: String) throws(ObjectStoreError) {
        var current = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            let parent = current.isEmpty ? "." : current
            current += (current.isEmpty || current.hasSuffix("/") ? "" : "/") + component
            do {
                try SystemCall.run("mkdir") { mkdir(current, 0o700) }
            } catch {
                if error.errno == EEXIST { continue }
                throw ObjectStoreError(error, doing: "cannot create directory \(current)", key: nil, location: path)
            }
            do {
                try SystemCall.run("chmod") { chmod(current, 0o700) }
                let fd = try SystemCall.run("open") { open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
                defer { SystemCall.closeQuietly(fd) }
                try SystemCall.run("fsync") { fsync(fd) }
            } catch {
                throw ObjectStoreError(error, doing: "cannot set up directory \(current)", key: nil, location: path)
            }
        }
    }
}
