#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Space left where a repository lives, for the dashboard's "days until full" and the
/// `kura_repository_free_bytes` metric.
public struct StoreCapacity: Sendable, Codable, Equatable {
    /// Bytes an unprivileged writer may still use (`f_bavail × f_frsize`).
    public var availableBytes: UInt64
    /// Size of the file system (`f_blocks × f_frsize`).
    public var totalBytes: UInt64

    public init(availableBytes: UInt64, totalBytes: UInt64) { self.availableBytes = availableBytes; self.totalBytes = totalBytes }
}

extension StoreLocation {
    /// The free and total space of the file system holding a local repository folder (`statvfs`); nil
    /// for an S3 location (a bucket has no size to fill) or when the folder cannot be examined.
    public var capacity: StoreCapacity? {
        guard case .local(let path) = self else { return nil }
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        let unit = UInt64(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
        return StoreCapacity(availableBytes: UInt64(s.f_bavail) * unit, totalBytes: UInt64(s.f_blocks) * unit)
    }
}
