import KuraRepository

/// `kura stats`: sizes of one snapshot or of the whole repository.
public struct RepositoryStats: Sendable, Codable {
    public var snapshots = 0
    public var files = 0
    public var directories = 0
    /// Sum of file sizes over every file of every counted snapshot (what a restore would write).
    public var logicalBytes: UInt64 = 0
    /// Distinct chunks referenced and their plaintext size (after dedup, before compression).
    public var uniqueChunks = 0
    public var uniqueBytes: UInt64 = 0
    /// Bytes those blobs (chunks and trees) take in packs (after compression and encryption).
    public var storedBytes: UInt64 = 0
    /// Total size of all objects in the repository (packs, index, snapshots, keys, config).
    public var repositoryBytes: UInt64 = 0
    public var dedupRatio: Double { uniqueBytes == 0 ? 1 : Double(logicalBytes) / Double(uniqueBytes) }
    public var compressionRatio: Double { storedBytes == 0 ? 1 : Double(uniqueBytes) / Double(storedBytes) }

    enum CodingKeys: String, CodingKey {
        case snapshots, files, directories, logicalBytes, uniqueChunks, uniqueBytes, storedBytes, repositoryBytes, dedupRatio, compressionRatio
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(snapshots, forKey: .snapshots); try c.encode(files, forKey: .files)
        try c.encode(directories, forKey: .directories); try c.encode(logicalBytes, forKey: .logicalBytes)
        try c.encode(uniqueChunks, forKey: .uniqueChunks); try c.encode(uniqueBytes, forKey: .uniqueBytes)
        try c.encode(storedBytes, forKey: .storedBytes); try c.encode(repositoryBytes, forKey: .repositoryBytes)
        try c.encode((dedupRatio * 1000).rounded() / 1000, forKey: .dedupRatio)
        try c.encode((compressionRatio * 1000).rounded() / 1000, forKey: .compressionRatio)
    }
    public init() {}
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        snapshots = try c.decode(Int.self, forKey: .snapshots); files = try c.decode(Int.self, forKey: .files)
        directories = try c.decode(Int.self, forKey: .directories); logicalBytes = try c.decode(UInt64.self, forKey: .logicalBytes)
        uniqueChunks = try c.decode(Int.self, forKey: .uniqueChunks); uniqueBytes = try c.decode(UInt64.self, forKey: .uniqueBytes)
        storedBytes = try c.decode(UInt64.self, forKey: .storedBytes); repositoryBytes = try c.decode(UInt64.self, forKey: .repositoryBytes)
    }
}

public struct StatsCollector: Sendable {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    /// Walks the snapshots' trees (each distinct tree once) and adds up sizes.
    public func collect(_ snapshots: [Snapshot]) async throws -> RepositoryStats {
        var stats = RepositoryStats()
        stats.snapshots = snapshots.count
        var seenBlobs = Set<BlobID>()
        var treeTotals: [BlobID: (files: Int, dirs: Int, bytes: UInt64)] = [:]

        func visit(_ id: BlobID) async throws -> (files: Int, dirs: Int, bytes: UInt64) {
            if let t = treeTotals[id] { return t }
            let tree = try await repository.loadTree(id)
            if seenBlobs.insert(id).inserted, let loc = repository.location(of: id) { stats.storedBytes += UInt64(loc.entry.length) }
            var total = (files: 0, dirs: 0, bytes: UInt64(0))
            for n in tree.nodes {
                switch n.type {
                case .file:
                    total.files += 1; total.bytes += n.size
                    for e in n.content { if let cid = e.id, seenBlobs.insert(cid).inserted {
                        stats.uniqueChunks += 1; stats.uniqueBytes += e.length
                        if let loc = repository.location(of: cid) { stats.storedBytes += UInt64(loc.entry.length) }
                    } }
                case .directory:
                    total.dirs += 1
                    if let sub = n.subtree { let t = try await visit(sub); total.files += t.files; total.dirs += t.dirs; total.bytes += t.bytes }
                default: break
                }
            }
            treeTotals[id] = total
            return total
        }
        for s in snapshots {
            guard let root = s.treeID else { continue }
            let t = try await visit(root)
            stats.files += t.files; stats.directories += t.dirs; stats.logicalBytes += t.bytes
        }
        if let all = try? await repository.store.list(prefix: "") { stats.repositoryBytes = all.reduce(0) { $0 + UInt64($1.size) } }
        return stats
    }
}
