import KuraRepository

/// The small files of one folder, cut into batches whose blobs are read together
/// (``Repository/loadBlobs(_:maxGap:maxRead:)``) when restoring from a remote store: a folder of
/// 1,000 small files then costs a few requests instead of 1,000.
///
/// A file is small when it is a regular file of at most ``fileLimit`` bytes; larger files stream
/// their chunks on their own (a chunk of ~1 MiB is worth its own request, and holding a large file's
/// chunks at once would cost memory). Batches follow the folder's order (the order the backup stored
/// the files in, so neighbours in a batch are usually neighbours in a pack) and hold at most
/// ``batchBytes`` of content, which bounds the memory a batch holds.
struct SmallFileBatches: Sendable {
    /// Largest file read as part of a batch.
    static let fileLimit: UInt64 = 1 << 20
    /// Content bytes of one batch, at most (a single file may exceed it only up to `fileLimit`).
    static let batchBytes: UInt64 = 8 << 20

    /// For each child of the folder, its batch (nil: not batched).
    private var batchOfChild: [Int?]
    /// For each batch, the blobs of its files.
    private var blobsOfBatch: [[BlobID]]

    init(_ nodes: [Node]) {
        batchOfChild = Array(repeating: nil, count: nodes.count)
        blobsOfBatch = []
        var bytes: UInt64 = 0
        for (i, node) in nodes.enumerated() where node.type == .file && node.size <= SmallFileBatches.fileLimit {
            let ids = node.content.compactMap(\.id)
            guard !ids.isEmpty else { continue }
            if blobsOfBatch.isEmpty || bytes + node.size > SmallFileBatches.batchBytes {
                blobsOfBatch.append([]); bytes = 0
            }
            blobsOfBatch[blobsOfBatch.count - 1].append(contentsOf: ids)
            bytes += node.size
            batchOfChild[i] = blobsOfBatch.count - 1
        }
    }

    /// The batch that child `index` of the folder belongs to, if any.
    func batch(ofChild index: Int) -> Int? { batchOfChild[index] }

    /// The blobs of batch `batch`.
    func blobs(ofBatch batch: Int) -> [BlobID] { blobsOfBatch[batch] }
}
