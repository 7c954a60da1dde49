import KuraRepository

/// Reads a file's extents in order, loading a few chunks ahead in parallel, and hands each piece to
/// `body` (holes as zero-filled pieces of at most 1 MiB).
public struct ContentStreamer: Sendable {
    public let repository: Repository
    /// Chunks loaded ahead of the one being written.
    public var readAhead = 4

    public init(repository: Repository) {
        self.repository = repository
        if repository.store.isRemote { readAhead = 8 }   // hide a round trip per chunk
    }

    public func stream(_ extents: [Extent], _ body: ([UInt8]) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            var next = 0
            var ready: [Int: [UInt8]] = [:]
            func spawn() {
                while next < extents.count, extents[next].isHole { next += 1 }  // holes need no loading
                guard next < extents.count, let id = extents[next].id else { return }
                let i = next
                next += 1
                group.addTask { (i, try await repository.loadBlob(id)) }
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
