import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// tmpfs and read-only bind mounts, for tests of full and read-only storage. They need
/// `CAP_SYS_ADMIN` (root outside a restrictive container); the `…UnavailableReason` probes say why not.
public enum TestMount {
    /// nil when this process may mount a tmpfs; otherwise why not.
    public static let tmpfsUnavailableReason: String? = {
        #if os(Linux)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kura-mount-probe-\(UUID().uuidString.prefix(8))").path
        guard mkdir(dir, 0o700) == 0 else { return "cannot create a probe folder: \(String(cString: strerror(errno)))" }
        defer { rmdir(dir) }
        guard Glibc.mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0 else {
            return "mount -t tmpfs is not permitted here: \(String(cString: strerror(errno))) (needs root with CAP_SYS_ADMIN)"
        }
        _ = umount2(dir, Int32(MNT_DETACH))
        return nil
        #else
        return "tmpfs mounts are Linux only"
        #endif
    }()

    /// nil when this process may make a read-only bind mount; otherwise why not.
    public static let bindUnavailableReason: String? = {
        #if os(Linux)
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kura-mount-bind-\(UUID().uuidString.prefix(8))").path
        let source = base + "-src", target = base + "-ro"
        guard mkdir(source, 0o700) == 0, mkdir(target, 0o700) == 0 else { return "cannot create probe folders" }
        defer { rmdir(target); _ = try? FileManager.default.removeItem(atPath: source) }
        do { try bindReadOnly(source, target) } catch { return "a read-only bind mount is not permitted here: \(error)" }
        defer { unmount(target) }
        let fd = open(target + "/probe", O_WRONLY | O_CREAT, 0o600)
        if fd >= 0 { close(fd); return "the read-only bind mount is writable" }
        guard errno == EROFS else { return "writing to the read-only bind mount failed with \(String(cString: strerror(errno))), not EROFS" }
        return nil
        #else
        return "bind mounts are Linux only"
        #endif
    }()

    /// `mount -t tmpfs -o OPTIONS tmpfs DIR`.
    public static func mountTmpfs(_ dir: String, options: String) throws {
        #if os(Linux)
        guard Glibc.mount("tmpfs", dir, "tmpfs", 0, options) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM) }
        #else
        throw POSIXError(.ENOTSUP)
        #endif
    }

    /// `mount -o remount,ro` of a tmpfs mounted with `options`.
    public static func remountTmpfsReadOnly(_ dir: String, options: String) throws {
        #if os(Linux)
        guard Glibc.mount("tmpfs", dir, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), options) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
        #else
        throw POSIXError(.ENOTSUP)
        #endif
    }

    /// `mount --bind source target && mount -o remount,ro,bind target`.
    public static func bindReadOnly(_ source: String, _ target: String) throws {
        #if os(Linux)
        guard Glibc.mount(source, target, nil, UInt(MS_BIND), nil) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM) }
        guard Glibc.mount(source, target, nil, UInt(MS_REMOUNT | MS_BIND | MS_RDONLY), nil) == 0 else {
            let e = errno
            unmount(target)
            throw POSIXError(POSIXErrorCode(rawValue: e) ?? .EPERM)
        }
        #else
        throw POSIXError(.ENOTSUP)
        #endif
    }

    /// Unmounts lazily (open descriptors cannot make it fail).
    public static func unmount(_ dir: String) {
        #if os(Linux)
        _ = umount2(dir, Int32(MNT_DETACH))
        #endif
    }
}

/// A small tmpfs mounted on a temporary folder of its own.
public struct TmpfsMount: Sendable {
    public let path: String
    private let options: String
    private let folder: TemporaryFolder

    /// Whether this process may mount a tmpfs.
    public static var isPermitted: Bool { TestMount.tmpfsUnavailableReason == nil }

    /// Mounts a tmpfs with `options` (for example `size=1m`).
    public init(options: String) throws {
        folder = try TemporaryFolder("kura-tmpfs")
        path = folder.path
        self.options = options
        do { try TestMount.mountTmpfs(path, options: options) } catch { folder.remove(); throw error }
    }

    /// Remounts the file system read-only.
    public func remountReadOnly() throws { try TestMount.remountTmpfsReadOnly(path, options: options) }

    /// Unmounts (lazily, so open descriptors cannot make it fail) and removes the mount point.
    public func unmount() {
        TestMount.unmount(path)
        folder.remove()
    }
}
