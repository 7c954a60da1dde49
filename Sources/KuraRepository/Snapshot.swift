import Foundation

/// A snapshot: the single commit point of a backup. Stored encrypted as JSON in `snapshots/<id>`,
/// where id is the SHA-256 of the stored bytes.
public struct Snapshot: Codable, Sendable, Equatable {
    /// Totals recorded by the backup that wrote the snapshot.
    public struct Summary: Codable, Sendable, Equatable {
        public var files = 0
        public var directories = 0
        public var otherEntries = 0
        /// Sum of file sizes.
        public var totalBytes: UInt64 = 0
        /// Chunks (and trees) new to the repository.
        public var blobsAdded = 0
        /// Plaintext bytes of the new blobs.
        public var bytesAdded: UInt64 = 0
        /// Bytes the new blobs take in packs (compressed and encrypted).
        public var bytesStored: UInt64 = 0
        /// Files whose chunk list was reused from the parent snapshot without reading them.
        public var filesUnchanged = 0
        public var durationSeconds: Double = 0
        public init() {}
    }

    /// One entry that could not be read.
    public struct ReadError: Codable, Sendable, Equatable {
        public var path: String
        public var message: String
        public init(path: String, message: String) { self.path = path; self.message = message }
    }

    public var version = 1
    /// When the backup started, RFC 3339 with nanoseconds and local offset.
    public var time: String
    public var host: String
    public var username: String
    /// Absolute paths that were backed up (for a stream: its file name in the snapshot).
    public var paths: [String]
    public var tags: [String] = []
    /// Root tree id, hex.
    public var tree: String
    /// The snapshot this one was compared with to skip unchanged files, hex.
    public var parent: String?
    public var excludes: [String] = []
    /// "directory" or "command".
    public var source = "directory"
    /// For a `command` source: the command line that produced the stream.
    public var command: [String]?
    /// True when some entries could not be read; `errors` lists them.
    public var incomplete = false
    public var errors: [ReadError] = []
    public var summary: Summary?
    /// "kura 0.1.0".
    public var program: String
    /// For a snapshot written by `kura copy`: the id (hex) of the snapshot it was copied from, in the
    /// source repository. A copy skips source snapshots that a target snapshot already records here.
    /// Absent in snapshots made by a backup (and in those of older versions).
    public var copiedFrom: String?

    /// The snapshot's id once stored or loaded (not part of the stored JSON).
    public var id: BlobID?

    enum CodingKeys: String, CodingKey {
        case version, time, host, username, paths, tags, tree, parent, excludes, source, command, incomplete, errors, summary, program, copiedFrom
    }

    public init(time: Date, host: String, username: String, paths: [String], tree: BlobID, program: String) {
        self.time = Timestamp.format(time)
        self.host = host; self.username = username; self.paths = paths
        self.tree = tree.hex; self.program = program
    }

    public var date: Date { Timestamp.parse(time) ?? Date(timeIntervalSince1970: 0) }
    public var treeID: BlobID? { BlobID(hex: tree) }
}
