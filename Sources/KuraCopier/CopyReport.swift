import KuraRepository

/// What `kura copy` did: per snapshot, and in total.
public struct CopyReport: Sendable, Codable, Equatable {
    /// One selected source snapshot.
    public struct Item: Sendable, Codable, Equatable {
        /// The snapshot's id in the source.
        public var source: String
        /// Its copy's id in the target: new when `copied`, else the earlier copy's (if it is known).
        public var target: String?
        /// "copied", or "skipped" (the target already holds a copy of it).
        public var status: String
        public var time: String
        public var host: String
        public var paths: [String]
        /// Blobs (data and trees) this snapshot needed that the target lacked, and their plaintext and
        /// stored (compressed, encrypted) bytes.
        public var blobsCopied = 0
        public var bytesCopied: UInt64 = 0
        public var bytesStored: UInt64 = 0
    }

    /// The end-of-copy check of the copied snapshots in the target.
    public struct Verification: Sendable, Codable, Equatable {
        /// Snapshots read back from the target.
        public var snapshots = 0
        public var trees = 0
        /// Distinct data blobs found in the target's stored index.
        public var dataBlobs = 0
        /// With `--verify-data`: blobs read back and hash-checked, and their plaintext bytes.
        public var blobsRead = 0
        public var bytesRead: UInt64 = 0
        public var readData = false
    }

    /// The Object Lock retention set on every object uploaded into an S3 target (`--retention`).
    public struct Retention: Sendable, Codable, Equatable {
        /// `COMPLIANCE` or `GOVERNANCE`.
        public var mode: String
        /// How long after its upload each object stays locked.
        public var seconds: Int
        public init(mode: String, seconds: Int) { self.mode = mode; self.seconds = seconds }
    }

    public var sourceLocation: String
    public var targetLocation: String
    /// Nil when no retention was set by the copy (a bucket's default retention may still apply).
    public var retention: Retention?
    public var snapshots: [Item] = []
    public var snapshotsCopied: Int { snapshots.filter { $0.status == "copied" }.count }
    public var snapshotsSkipped: Int { snapshots.filter { $0.status == "skipped" }.count }
    public var blobsCopied: Int { snapshots.reduce(0) { $0 + $1.blobsCopied } }
    public var bytesCopied: UInt64 { snapshots.reduce(0) { $0 + $1.bytesCopied } }
    public var bytesStored: UInt64 { snapshots.reduce(0) { $0 + $1.bytesStored } }
    /// Set when the target's chunker parameters or secret differ from the source's.
    public var chunkerDiffers = false
    public var verification = Verification()
    public var warnings: [String] = []

    public init(sourceLocation: String, targetLocation: String) {
        self.sourceLocation = sourceLocation
        self.targetLocation = targetLocation
    }

    enum CodingKeys: String, CodingKey {
        case sourceLocation, targetLocation, snapshots, snapshotsCopied, snapshotsSkipped, blobsCopied, bytesCopied, bytesStored,
             chunkerDiffers, verification, warnings, retention
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sourceLocation, forKey: .sourceLocation)
        try c.encode(targetLocation, forKey: .targetLocation)
        try c.encode(snapshots, forKey: .snapshots)
        try c.encode(snapshotsCopied, forKey: .snapshotsCopied)
        try c.encode(snapshotsSkipped, forKey: .snapshotsSkipped)
        try c.encode(blobsCopied, forKey: .blobsCopied)
        try c.encode(bytesCopied, forKey: .bytesCopied)
        try c.encode(bytesStored, forKey: .bytesStored)
        try c.encode(chunkerDiffers, forKey: .chunkerDiffers)
        try c.encode(verification, forKey: .verification)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(retention, forKey: .retention)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sourceLocation = try c.decode(String.self, forKey: .sourceLocation)
        targetLocation = try c.decode(String.self, forKey: .targetLocation)
        snapshots = try c.decode([Item].self, forKey: .snapshots)
        chunkerDiffers = try c.decode(Bool.self, forKey: .chunkerDiffers)
        verification = try c.decode(Verification.self, forKey: .verification)
        warnings = try c.decode([String].self, forKey: .warnings)
        retention = try c.decodeIfPresent(Retention.self, forKey: .retention)
    }
}
