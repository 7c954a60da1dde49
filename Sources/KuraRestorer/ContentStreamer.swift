import KuraRepository

/// Reads a file's extents in order, loading a few chunks ahead in parallel, and hands each piece to
/// `body` (holes as zero-filled pieces of at most 1 MiB).
public struct ContentStreamer: Sendable {
    public let repository: Repository
    /// Chunks loaded ahead of the one being written.
    public var readAhead = 4
    /// Chunks already loaded (by a batched read, ``Repository/loadBlobs(_:maxGap:maxRead:)``): used as
    /// they are; every other chunk is loaded here.
    public var preloaded: [BlobID: [UInt8]]

    public init(repository: Repository, preloaded: [BlobID: [UInt8]] = [:]) {
        self.repository = repository
        self.preloaded = preloaded
        if repository.store.isRemote { readAhead = 8 }   // hide a round trip per chunk
    }

    public func stream(_ extents: [Extent], _ body: ([UInt8]) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            var next = 0
            var ready: [Int: [UInt8]] = [:]
            // Starts loading the next chunk that is neither a hole nor preloaded (those need no loading).
            func spawn() {
                while next < extents.count {
                    let i = next
                    next += 1
                    guard let id = extents[i].id else { continue }
                    if let bytes = preloaded[id] { ready[i] = bytes; continue }
                    group.addTask { (i, try await repository.loadBlob(id)) }
                    return
                }
            }
            for _ in 0..<readAhead { spawn() }
            for (i, extent) in extents.enumerated() {
                if extent.isHole {
                    var left = extent.length
                    while left > 0 {
                        let n = Int(min(left, 1 << 20))
                        try await body([UInt8](repeating: 0, count: n))
                        left -= UInt64(n)
                    }
                    continue
                }
                while ready[i] == nil {
                    guard let (j, bytes) = try await group.next() else { break }
                    ready[j] = bytes
                    spawn()
                }
                guard let bytes = ready.removeValue(forKey: i) else {
                    throw KuraError(.fatal, "internal error: chunk \(i) was not loaded")
                }
                guard bytes.count == Int(extent.length) else {
                    throw KuraError(.corrupt, "chunk \(extent.id!.short) has \(bytes.count) bytes where the tree says \(extent.length)")
                }
                try await body(bytes)
            }
        }
    }
}
