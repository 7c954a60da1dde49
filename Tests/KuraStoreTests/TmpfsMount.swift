import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted on a scratch directory, for testing full and read-only file systems.
/// Needs `CAP_SYS_ADMIN` (root outside a restrictive container); ``isPermitted`` says whether it works here.
struct TmpfsMount: Sendable {
    let path: String
    private let options: String
    private let scratch: ScratchDirectory

    /// Whether this process may mount a tmpfs (checked once by mounting and unmounting one).
    static let isPermitted: Bool = {
        guard let mount = try? TmpfsMount(options: "size=64k") else { return false }
        mount.unmount()
        return true
    }()

    /// Mounts a tmpfs with `options` (for example `size=1m`).
    init(options: String) throws {
        scratch = try ScratchDirectory()
        path = scratch.path
        self.options = options
        #if os(Linux)
        guard Glibc.mount("tmpfs", path, "tmpfs", 0, options) == 0 else {
            let error = errno
            scratch.remove()
            throw POSIXError(POSIXErrorCode(rawValue: error) ?? .EPERM)
        }
        #else
        throw POSIXError(.ENOTSUP)
        #endif
    }

    /// Remounts the file system read-only.
    func remountReadOnly() throws {
        #if os(Linux)
        guard Glibc.mount("tmpfs", path, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), options) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
        #endif
    }

    /// Unmounts (lazily, so open descriptors cannot make it fail) and removes the mount point.
    func unmount() {
        #if os(Linux)
        _ = umount2(path, Int32(MNT_DETACH))
        #endif
        scratch.remove()
    }
}
