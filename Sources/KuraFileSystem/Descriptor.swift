import CKuraSystem
#if canImport(Glibc)
import Glibc
#endif

/// An owned file descriptor, closed when the value is destroyed. Used for files and directories,
/// so that deep trees are walked with `*at` calls and path length never matters.
public final class Descriptor: @unchecked Sendable {
    public let fd: Int32
    /// The path this descriptor was opened at (for messages).
    public let path: [UInt8]

    public init(fd: Int32, path: [UInt8]) { self.fd = fd; self.path = path }
    deinit { close(fd) }

    /// Opens `name` relative to `dir` (nil: the current directory) with `flags` (O_CLOEXEC added).
    public static func open(_ name: [UInt8], in dir: Descriptor?, path: [UInt8], flags: Int32, mode: mode_t = 0) throws -> Descriptor {
        let fd = withCPath(name) { Glibc.openat(dir?.fd ?? AT_FDCWD, $0, flags | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw FileSystemError("open", path: path, errno: errno) }
        return Descriptor(fd: fd, path: path)
    }

    /// An unnamed regular file in `dir` (`O_TMPFILE`): if the process dies before ``link(as:in:path:)``
    /// gives it a name, the kernel frees it and nothing is left behind. Nil when the file system (or
    /// the kernel) does not support unnamed files, or `/proc/self/fd` is missing (linking needs it).
    public static func openUnnamed(in dir: Descriptor, path: [UInt8], mode: mode_t) throws -> Descriptor? {
        guard Descriptor.procFdAvailable else { return nil }
        let fd = Glibc.openat(dir.fd, ".", kura_o_tmpfile() | O_WRONLY | O_CLOEXEC, mode)
        if fd >= 0 { return Descriptor(fd: fd, path: path) }
        switch errno {
        case EOPNOTSUPP, EISDIR, EINVAL, ENOENT: return nil  // not supported here: the caller uses a named temporary file
        default: throw FileSystemError("open", path: path, errno: errno)
        }
    }

    private static let procFdAvailable = access("/proc/self/fd", F_OK) == 0

    /// Gives an unnamed file (``openUnnamed(in:path:mode:)``) the name `name` in `dir`; fails with
    /// EEXIST when the name is taken.
    public func link(as name: [UInt8], in dir: Descriptor, path: [UInt8]) throws {
        let ok = withCPath(name) { target in
            Glibc.linkat(AT_FDCWD, "/proc/self/fd/\(fd)", dir.fd, target, AT_SYMLINK_FOLLOW) == 0
        }
        guard ok else { throw FileSystemError("link", path: path, errno: errno) }
    }

    /// Opens a directory without following a final symlink.
    public static func openDirectory(_ name: [UInt8], in dir: Descriptor?, path: [UInt8]) throws -> Descriptor {
        try open(name, in: dir, path: path, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    }

    /// Opens a directory, following symlinks (for the folders above a backup path, as restic and tar do).
    public static func openDirectoryFollowing(_ name: [UInt8], in dir: Descriptor?, path: [UInt8]) throws -> Descriptor {
        try open(name, in: dir, path: path, flags: O_RDONLY | O_DIRECTORY)
    }

    /// Opens a regular file for reading, trying kura_o_noatime() first (not permitted for other users' files).
    public static func openForReading(_ name: [UInt8], in dir: Descriptor?, path: [UInt8]) throws -> Descriptor {
        if let d = try? open(name, in: dir, path: path, flags: O_RDONLY | O_NOFOLLOW | kura_o_noatime() | O_NONBLOCK) { return d }
        return try open(name, in: dir, path: path, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    }

    /// The names in this directory (without "." and ".."), sorted bytewise.
    public func directoryEntries() throws -> [[UInt8]] {
        let dupfd = dup(fd)
        guard dupfd >= 0, let dir = fdopendir(dupfd) else { throw FileSystemError("opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw FileSystemError("readdir", path: path, errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw -> [UInt8] in
                let len = strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
                return Array(raw.prefix(len))
            }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        return names
    }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns bytes read (0 at end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("read", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `buffer` at `offset`.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError("write", path: path, errno: errno)
            }
            done += n
        }
    }

    /// Data regions of a sparse file, via SEEK_DATA/SEEK_HOLE: [(offset, length)].
    public func dataRegions(size: Int64) -> [(offset: Int64, length: Int64)]? {
        var regions: [(Int64, Int64)] = []
        var pos: Int64 = 0
        while pos < size {
            let data = lseek(fd, off_t(pos), kura_seek_data())
            if data < 0 { if errno == ENXIO { break }; return nil }
            let hole = lseek(fd, data, kura_seek_hole())
            if hole < 0 { return nil }
            let end = min(Int64(hole), size)
            if end > Int64(data) { regions.append((Int64(data), end - Int64(data))) }
            pos = Int64(hole)
        }
        return regions
    }

    /// A path that reaches `name` inside this directory without length limits, for the few calls
    /// that have no `*at` form (xattrs of symlinks and special files).
    public func procPath(_ name: [UInt8]) -> [UInt8] {
        Array("/proc/self/fd/\(fd)/".utf8) + name
    }
}
