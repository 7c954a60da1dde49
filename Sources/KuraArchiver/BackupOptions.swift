import Foundation
import KuraRepository

/// What to back up and how.
public struct BackupOptions: Sendable {
    /// Paths to back up; relative paths are made absolute against the working directory.
    public var paths: [String]
    public var tags: [String] = []
    /// Host name recorded in the snapshot (default: this machine's).
    public var host: String?
    /// Glob patterns: a pattern without "/" matches an entry's name at any depth; one with "/" matches
    /// the whole absolute path (`*` does not cross "/").
    public var excludes: [String] = []
    /// Do not descend into directories on other file systems (mount points are kept, empty).
    public var oneFileSystem = false
    /// Files read at the same time.
    public var fileParallelism = max(4, ProcessInfo.processInfo.activeProcessorCount * 2)
    /// Bytes of chunk data in flight (read but not yet packed) at most: the pipeline's memory bound.
    /// 12 MiB (about four 2 MiB blocks with their carried tails) kept both cores of a 2-core machine as
    /// busy as 16 or 32 MiB did, with a lower peak RSS (docs/benchmarks.md, issue 14).
    public var inFlightBytes = 12 << 20
    /// Bytes read per block (nil: 2 MiB, bounded by the chunker's sizes); cut points do not depend on it.
    public var readSize: Int?
    /// Re-read and re-hash every file instead of trusting the parent snapshot (the weekly "full").
    public var forceReread = false
    /// The snapshot to compare with (id prefix or `latest`); default: the newest snapshot of this host
    /// with the same paths.
    public var parent: String?
    /// Cut big blocks with the exact-parallel chunker (same cut points); nil: when there are more than
    /// 2 cores (on 2 cores the sequential scan is as fast and leaves a core for hashing).
    public var parallelChunking: Bool?
    /// Snapshot time (default: now).
    public var time: Date?

    public init(paths: [String]) { self.paths = paths }
}

/// Counters for progress display, updated as the backup runs.
public struct BackupProgress: Sendable {
    public var files = 0
    public var directories = 0
    public var bytesRead: UInt64 = 0
    public var bytesNew: UInt64 = 0
    public var errors = 0
    public var currentPath = ""
}

/// What a finished backup produced.
public struct BackupResult: Sendable {
    public var snapshot: Snapshot
    /// Entries that could not be read (also in `snapshot.errors`).
    public var errors: [Snapshot.ReadError]
    /// Warnings that did not make the snapshot incomplete.
    public var warnings: [String]
    /// 0, or 3 when the snapshot is incomplete.
    public var exitCode: Int32 { snapshot.incomplete ? 3 : 0 }
}
