import Foundation
import KuraCore

/// Replaces a file in one step, so a reader sees the old content or the new, never a part: write a
/// temporary file beside it, fsync, close, rename over the target. Used for the state file and for the
/// metrics textfile that node_exporter's textfile collector reads (it wants exactly this).
public enum AtomicFile {
    /// Writes `bytes` to `path` with `mode`. The temporary name starts with "." so that collectors that
    /// read `*.prom` never pick it up; on failure it is removed and the old file is left as it was.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600, what: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let tmp = (folder.isEmpty ? "" : folder + "/") + ".\(name).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw KuraError(.io, "cannot write \(what) \(path): \(tmp): \(String(cString: strerror(errno)))",
                            hint: "check that \(folder.isEmpty ? "the folder" : folder) exists and is writable; the previous file is unchanged")
        }
        _ = fchmod(fd, mode)  // umask may have narrowed the mode given to open
        var ok = bytes.withUnsafeBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        ok = close(fd) == 0 && ok
        guard ok, rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw KuraError(.io, "cannot write \(what) \(path): \(String(cString: strerror(e)))", hint: "the previous file is unchanged")
        }
    }
}
