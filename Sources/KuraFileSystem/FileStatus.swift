import CKuraSystem
#if canImport(Glibc)
import Glibc
#endif

/// The result of `lstat`, in plain Swift types.
public struct FileStatus: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case regular, directory, symlink, fifo, characterDevice, blockDevice, socket, unknown }
    public var kind: Kind
    /// Permission bits (07777).
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    /// 512-byte blocks allocated (less than size/512 for a sparse file).
    public var blocks: Int64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: UInt32
    public var ctimeSeconds: Int64
    public var ctimeNanoseconds: UInt32
    public var inode: UInt64
    public var device: UInt64
    public var links: UInt64
    public var rdev: UInt64

    public init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFIFO: kind = .fifo
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFSOCK: kind = .socket
        default: kind = .unknown
        }
        permissions = UInt32(st.st_mode & 0o7777)
        uid = st.st_uid; gid = st.st_gid
        size = Int64(st.st_size); blocks = Int64(st.st_blocks)
        mtimeSeconds = Int64(st.st_mtim.tv_sec); mtimeNanoseconds = UInt32(st.st_mtim.tv_nsec)
        ctimeSeconds = Int64(st.st_ctim.tv_sec); ctimeNanoseconds = UInt32(st.st_ctim.tv_nsec)
        inode = UInt64(st.st_ino); device = UInt64(st.st_dev); links = UInt64(st.st_nlink); rdev = UInt64(st.st_rdev)
    }

    /// True when fewer blocks are allocated than the size needs: the file probably has holes.
    public var mayBeSparse: Bool { kind == .regular && blocks * 512 < size }
}

/// `fstatat` without following a final symlink.
public func statAt(_ dirfd: Int32, _ name: [UInt8], path: [UInt8]) throws -> FileStatus {
    var st = stat()
    let rc = withCPath(name) { fstatat(dirfd, $0, &st, AT_SYMLINK_NOFOLLOW) }
    guard rc == 0 else { throw FileSystemError("lstat", path: path, errno: errno) }
    return FileStatus(st)
}

/// `fstat` of an open descriptor.
public func statDescriptor(_ fd: Int32, path: [UInt8]) throws -> FileStatus {
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileSystemError("fstat", path: path, errno: errno) }
    return FileStatus(st)
}

/// `lstat` of an absolute or relative path.
public func statPath(_ path: [UInt8]) throws -> FileStatus {
    try statAt(AT_FDCWD, path, path: path)
}

/// The target of a symlink, as raw bytes.
public func readLinkAt(_ dirfd: Int32, _ name: [UInt8], path: [UInt8]) throws -> [UInt8] {
    var size = 256
    while true {
        var buf = [UInt8](repeating: 0, count: size)
        let n = withCPath(name) { p in buf.withUnsafeMutableBytes { readlinkat(dirfd, p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), size) } }
        guard n >= 0 else { throw FileSystemError("readlink", path: path, errno: errno) }
        if n < size { return Array(buf[0..<n]) }
        size *= 4
    }
}

/// Major and minor numbers of a device number (glibc's encoding).
public func deviceMajorMinor(_ dev: UInt64) -> (major: UInt32, minor: UInt32) {
    (kura_major(dev), kura_minor(dev))
}

/// A device number from major and minor numbers.
public func makeDevice(major: UInt32, minor: UInt32) -> UInt64 { kura_makedev(major, minor) }
