import KuraRepository
import Synchronization

/// Reads the small files of one folder in batches from a remote store
/// (``Repository/loadBlobs(_:maxGap:maxRead:)``), for the readers that go through a folder file by
/// file — the restorer and `kura dump`: a folder of 1,000 small files then costs a few requests
/// instead of 1,000.
///
/// A file is small when it is a regular file of at most ``fileLimit`` bytes; larger files stream
/// their chunks on their own (a chunk of ~1 MiB is worth its own request, and holding a large file's
/// chunks at once would cost memory). Batches follow the folder's order (the order the backup stored
/// the files in, so neighbours in a batch are usually neighbours in a pack) and hold at most
/// ``batchBytes`` of content. Asking for a batch also starts the next one, so the next batch loads
/// while the files of this one are written; batches two behind are let go (their files hold them).
final class FolderPreloader: Sendable {
    /// Largest file read as part of a batch.
    static let fileLimit: UInt64 = 1 << 20
    /// Content bytes of one batch, at most (a single file may exceed it only up to `fileLimit`).
    static let batchBytes: UInt64 = 8 << 20

    typealias Batch = Task<[BlobID: [UInt8]], Never>

    private let repository: Repository
    /// For each child of the folder, its batch (nil: not batched).
    private let batchOfChild: [Int?]
    /// For each batch, the blobs of its files.
    private let blobsOfBatch: [[BlobID]]
    private let started = Mutex([Int: Batch]())

    /// A preloader for the folder holding `nodes`, or nil when batching gains nothing: a local store
    /// (a read costs no round trip) or no small files.
    init?(repository: Repository, nodes: [Node]) {
        guard repository.store.isRemote else { return nil }
        var batchOfChild = [Int?](repeating: nil, count: nodes.count)
        var blobsOfBatch: [[BlobID]] = []
        var bytes: UInt64 = 0
        for (i, node) in nodes.enumerated() where node.type == .file && node.size <= FolderPreloader.fileLimit {
            let ids = node.content.compactMap(\.id)
            guard !ids.isEmpty else { continue }
            if blobsOfBatch.isEmpty || bytes + node.size > FolderPreloader.batchBytes {
                blobsOfBatch.append([]); bytes = 0
            }
            blobsOfBatch[blobsOfBatch.count - 1].append(contentsOf: ids)
            bytes += node.size
            batchOfChild[i] = blobsOfBatch.count - 1
        }
        guard !blobsOfBatch.isEmpty else { return nil }
        self.repository = repository
        self.batchOfChild = batchOfChild
        self.blobsOfBatch = blobsOfBatch
    }

    /// The batch holding child `index`'s content (started now if it was not), or nil when the child is
    /// not batched. Await its value for the blobs that loaded; load the others alone. Ask in the
    /// folder's order.
    func batch(forChild index: Int) -> Batch? {
        guard let b = batchOfChild[index] else { return nil }
        return started.withLock { started in
            func start(_ n: Int) -> Batch {
                if let t = started[n] { return t }
                let ids = blobsOfBatch[n], repository = repository
                let t = Task { await repository.loadBlobs(ids) }
                started[n] = t
                return t
            }
            started = started.filter { $0.key >= b - 1 }
            let task = start(b)
            if b + 1 < blobsOfBatch.count { _ = start(b + 1) }
            return task
        }
    }
}
