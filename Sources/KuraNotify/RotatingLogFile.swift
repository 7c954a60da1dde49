import Foundation

/// An append-only log file rotated by size: when the next line would take `path` past `maxBytes`, the
/// files shift (`kura.log.3` is removed, `kura.log.2` → `kura.log.3`, …, `kura.log` → `kura.log.1`)
/// and a new `kura.log` starts, so at most `keep` files exist in all (`keep` = 1: `kura.log` only,
/// emptied when full).
///
/// When `path` is moved away by someone else (logrotate, or another kura process rotating), the next
/// line notices and reopens it. Files are created mode 0600. Not thread-safe: ``LogSink`` serialises calls.
final class RotatingLogFile {
    let path: String
    let maxBytes: Int
    let keep: Int
    private var fd: Int32 = -1
    private var size = 0
    private var inode: ino_t = 0

    /// Opens (creates) `path`, and its folder with mode 0700 when missing; throws a readable message.
    init(path: String, maxBytes: Int, keep: Int) throws {
        self.path = path
        self.maxBytes = max(1024, maxBytes)
        self.keep = max(1, keep)
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try open()
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends one line (with its newline), rotating first when it would not fit.
    func write(_ line: [UInt8]) {
        if movedAway() { try? reopen() }
        if size > 0, size + line.count > maxBytes { rotate() }
        guard fd >= 0 else { return }
        line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0, errno == EINTR { continue } else { break }
            }
            size += offset
        }
    }

    private func open() throws {
        let opened = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard opened >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot open log file \(path): \(String(cString: strerror(errno)))"])
        }
        var st = stat()
        fstat(opened, &st)
        fd = opened
        size = Int(st.st_size)
        inode = st.st_ino
    }

    private func reopen() throws {
        if fd >= 0 { close(fd); fd = -1 }
        try open()
    }

    /// True when `path` is no longer the file we write to.
    private func movedAway() -> Bool {
        var st = stat()
        return stat(path, &st) != 0 || st.st_ino != inode
    }

    private func rotate() {
        if keep <= 1 {
            _ = ftruncate(fd, 0)
            size = 0
            return
        }
        unlink("\(path).\(keep - 1)")
        for i in stride(from: keep - 2, through: 1, by: -1) { rename("\(path).\(i)", "\(path).\(i + 1)") }
        rename(path, "\(path).1")
        try? reopen()
    }
}
