import CKuraSystem
#if canImport(Glibc)
import Glibc
#endif

/// Writes a new file front to back with direct I/O (`O_DIRECT`), around the page cache.
///
/// On the VMs kura is measured on, copying new data into the page cache is what a big write costs
/// (700 MB: 1.86 s of system time buffered, 0.14 s direct), and a restore or a pack write has no use
/// for those pages afterwards. Bytes are gathered in a 1 MiB aligned buffer and written in aligned
/// pieces; `finish` writes the last piece padded with zeros and truncates the file to its real size.
/// Where the file system refuses direct I/O (tmpfs, some network file systems) the first write says
/// so and the writer continues with ordinary writes. Used by the local store (packs) and the
/// restorer (large files). Not thread-safe; one writer per descriptor.
public struct DirectWriter: ~Copyable {
    public let fd: Int32
    /// For error messages.
    public let path: [UInt8]
    private let buffer: UnsafeMutableRawPointer
    private var filled = 0
    /// File offset of `buffer`'s first byte.
    private var offset: Int64 = 0
    private var flags: Int32
    /// False once the file system refused direct I/O (or it was never enabled): plain writes from then on.
    public private(set) var direct: Bool

    /// Files at least this large are written with a `DirectWriter` (1 MiB; smaller ones would wait for
    /// the device once each). `KURA_DIRECT_IO=0` turns direct I/O off everywhere (for a file system
    /// that handles it badly, and to measure).
    public static let threshold: Int = getenv("KURA_DIRECT_IO").map { String(cString: $0) } == "0" ? Int.max : 1 << 20

    static let block = 4096
    static let piece = 1 << 20

    /// Starts writing `fd` (an empty file opened for writing) at offset 0. Direct I/O is used when
    /// `direct` is true and the file system takes it.
    public init(fd: Int32, path: [UInt8], direct: Bool = true) {
        self.fd = fd
        self.path = path
        var raw: UnsafeMutableRawPointer?
        precondition(posix_memalign(&raw, DirectWriter.block, DirectWriter.piece) == 0, "posix_memalign failed")
        buffer = raw!
        flags = fcntl(fd, F_GETFL)
        self.direct = direct && flags >= 0 && fcntl(fd, F_SETFL, flags | kura_o_direct()) == 0
    }

    deinit {
        if direct { _ = fcntl(fd, F_SETFL, flags) }
        free(buffer)
    }

    /// Appends `bytes` to the file.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        var done = 0
        while done < bytes.count {
            let n = min(DirectWriter.piece - filled, bytes.count - done)
            (buffer + filled).copyMemory(from: bytes.baseAddress! + done, byteCount: n)
            filled += n
            done += n
            if filled == DirectWriter.piece { try flush(length: filled) }
        }
    }

    /// Writes what is left and gives the file its exact length.
    public mutating func finish() throws(FileSystemError) {
        let size = offset + Int64(filled)
        guard filled > 0 else { return }
        // Direct writes are whole blocks: the last one is padded with zeros, then cut off again.
        let length = direct ? (filled + DirectWriter.block - 1) / DirectWriter.block * DirectWriter.block : filled
        let padded = length > filled
        (buffer + filled).initializeMemory(as: UInt8.self, repeating: 0, count: length - filled)
        try flush(length: length)
        if padded, ftruncate(fd, off_t(size)) != 0 {
            throw FileSystemError("truncate", path: path, errno: errno)
        }
    }

    private mutating func flush(length: Int) throws(FileSystemError) {
        var done = 0
        while done < length {
            let n = pwrite(fd, buffer + done, length - done, off_t(offset) + off_t(done))
            if n < 0 {
                let error = errno
                if error == EINTR { continue }
                if error == EINVAL, direct {
                    // The file system takes O_DIRECT at open but not for this write: go on without it.
                    _ = fcntl(fd, F_SETFL, flags)
                    direct = false
                    continue
                }
                throw FileSystemError("write", path: path, errno: error)
            }
            done += n
        }
        offset += Int64(min(length, filled))
        filled = 0
    }
}
