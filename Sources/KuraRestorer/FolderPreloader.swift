import KuraRepository
import Synchronization

/// Reads the small files of one folder in batches from a remote store
/// (``Repository/loadBlobs(_:maxGap:maxRead:)``), for the readers that go through a folder file by
/// file — the restorer and `kura dump`: a folder of 1,000 small files then costs a few requests
/// instead of 1,000.
///
/// A file is small when it is a regular file of at most ``fileLimit`` bytes; larger files stream
/// their chunks on their own (a chunk of ~1 MiB is worth its own request, and holding a large file's
/// chunks at once would cost memory). A batch is a run of consecutive small files in the folder's
/// order (the order the backup stored them in, so neighbours in a batch are usually neighbours in a
/// pack) of at most ``batchBytes`` of content; a folder or a large file between them ends the run.
///
/// **Memory, and why it cannot deadlock:** a loaded batch is held until every one of its files is
/// ``finished(child:)``, and is charged to a `budget` shared by every folder of one restore or dump
/// (``budgetBytes``): a batch waits to load until the budget has room, so many folders restored at
/// once never hold more. A batch starts loading only when its first file is started, its files are
/// consecutive (nothing that could itself wait for the budget comes between them), and a file
/// waits for its batch before it takes any other resource — so every batch that holds budget can
/// finish without more, and a full budget always drains. (Loading the next batch ahead would break
/// that: it could hold budget while a subfolder before its files waits for the same budget.)
final class FolderPreloader: Sendable {
    /// Largest file read as part of a batch.
    static let fileLimit: UInt64 = 1 << 20
    /// Content bytes of one batch, at most (a single file may exceed it only up to `fileLimit`).
    static let batchBytes: UInt64 = 8 << 20
    /// Loaded batches of one restore or dump hold at most this many bytes of content at once.
    static let budgetBytes = 32 << 20

    typealias Batch = Task<[BlobID: [UInt8]], Never>

    private struct Plan {
        var blobs: [BlobID] = []
        var bytes = 0
        var files = 0
    }
    private struct Started {
        var task: Batch
        var unfinished: Int
    }

    private let repository: Repository
    private let budget: AsyncLimiter
    /// For each child of the folder, its batch (nil: not batched).
    private let batchOfChild: [Int?]
    private let plans: [Plan]
    private let started = Mutex([Int: Started]())

    /// A preloader for the folder holding `nodes`, or nil when batching gains nothing: a local store
    /// (a read costs no round trip) or no small files. `budget` is the restore's (or dump's) memory
    /// budget for loaded batches, in bytes (``budgetBytes``).
    init?(repository: Repository, nodes: [Node], budget: AsyncLimiter) {
        guard repository.store.isRemote else { return nil }
        var batchOfChild = [Int?](repeating: nil, count: nodes.count)
        var plans: [Plan] = []
        var inRun = false
        for (i, node) in nodes.enumerated() {
            let ids = node.type == .file && node.size <= FolderPreloader.fileLimit ? node.content.compactMap(\.id) : []
            guard !ids.isEmpty else { inRun = false; continue }
            if !inRun || UInt64(plans[plans.count - 1].bytes) + node.size > FolderPreloader.batchBytes { plans.append(Plan()) }
            inRun = true
            plans[plans.count - 1].blobs += ids
            plans[plans.count - 1].bytes += Int(node.size)
            plans[plans.count - 1].files += 1
            batchOfChild[i] = plans.count - 1
        }
        guard !plans.isEmpty else { return nil }
        self.repository = repository
        self.budget = budget
        self.batchOfChild = batchOfChild
        self.plans = plans
    }

    /// The batch holding child `index`'s content (started now if it was not), or nil when the child is
    /// not batched. Await its value for the blobs that loaded (the others: load them alone), and call
    /// ``finished(child:)`` when done with them. Ask in the folder's order.
    func batch(forChild index: Int) -> Batch? {
        guard let b = batchOfChild[index] else { return nil }
        return started.withLock { started in
            if let s = started[b] { return s.task }
            let plan = plans[b], repository = repository, budget = budget
            let task = Task {
                await budget.acquire(plan.bytes)
                return await repository.loadBlobs(plan.blobs)
            }
            started[b] = Started(task: task, unfinished: plan.files)
            return task
        }
    }

    /// Child `index` no longer needs its batch: when all of a batch's files are finished, the batch
    /// is let go and its bytes go back to the budget. Call it for every child that got a batch.
    func finished(child index: Int) {
        guard let b = batchOfChild[index] else { return }
        let done: Batch? = started.withLock { started in
            guard var s = started[b] else { return nil }
            s.unfinished -= 1
            if s.unfinished > 0 { started[b] = s; return nil }
            started[b] = nil
            return s.task
        }
        guard let done else { return }
        // Released once the batch has loaded (it holds its share of the budget from then until now).
        let budget = budget, bytes = plans[b].bytes
        Task { _ = await done.value; budget.release(bytes) }
    }
}
