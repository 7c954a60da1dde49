import Foundation
import KuraChunker
import KuraCrypto
import KuraFileSystem
import KuraRepository
import Synchronization

/// A source of content bytes: a region of a file, or a pipe.
protocol ContentReader {
    /// Reads into `buffer`; returns the number of bytes read, 0 at the end.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Called before each block is read: a reader fed asynchronously (a child's output) gathers at
    /// least `count` bytes here, or all that is left, so that `read` never waits.
    mutating func prepare(_ count: Int) async throws
}

extension ContentReader {
    mutating func prepare(_ count: Int) async throws {}
}

/// Reads `length` bytes of a file from `offset` with pread.
struct FileRegionReader: ContentReader {
    let descriptor: Descriptor
    var offset: Int64
    var remaining: Int64
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard remaining > 0 else { return 0 }
        let want = Int(min(Int64(buffer.count), remaining))
        let n = try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset)
        offset += Int64(n)
        remaining = n == 0 ? 0 : remaining - Int64(n)
        return n
    }
}

/// An immutable block of read bytes shared by the chunk tasks cut from it. Its bytes are charged to
/// the pipeline's in-flight budget until the last task lets go of it.
final class Block: Sendable {
    let bytes: [UInt8]
    let limiter: AsyncLimiter
    let charged: Int
    init(bytes: [UInt8], limiter: AsyncLimiter, charged: Int) { self.bytes = bytes; self.limiter = limiter; self.charged = charged }
    deinit { limiter.release(charged) }
}

/// Totals of what was stored, shared by all tasks of a backup.
struct IngestCounters {
    var bytesRead: UInt64 = 0
    var blobsAdded = 0
    var bytesAdded: UInt64 = 0
    var bytesStored: UInt64 = 0
}

/// The content half of the ingest pipeline: reads a stream in blocks, cuts it with FastCDC, and
/// hashes, dedups, compresses, encrypts and packs the chunks on parallel tasks. Memory is bounded by
/// the `budget` limiter (bytes read but not yet packed), not by file size or count.
final class ContentSaver: Sendable {
    let repository: Repository
    let budget: AsyncLimiter
    let counters: Mutex<IngestCounters>

    init(repository: Repository, inFlightBytes: Int, parallelChunking: Bool, readSize: Int? = nil) {
        self.repository = repository
        self.parallelChunking = parallelChunking
        let p = repository.chunker.parameters
        self.readSize = max(1, min(p.maxSize, readSize ?? max(ContentSaver.defaultReadSize, 2 * p.minSize)))
        self.budget = AsyncLimiter(capacity: inFlightBytes)
        self.counters = Mutex(IngestCounters())
    }

    var totals: IngestCounters { counters.withLock { $0 } }

    static let cores = ProcessInfo.processInfo.activeProcessorCount
    /// Whether big blocks are cut with the parallel chunker.
    let parallelChunking: Bool
    /// Bytes read per block (after the carried tail of the last one). 2 MiB, not the 8 MiB maximum
    /// chunk: a block is charged to the in-flight budget until all its chunks are packed, so smaller
    /// blocks let more of them overlap in the same budget. Measured on the 1.2 GB corpus, alternated:
    /// 2.27–2.37 s and 162–174 MB peak with 2 MiB against 2.46–2.53 s and 190–225 MB with 8 MiB
    /// (docs/benchmarks.md). A block that decides no cut (no boundary yet, less than the maximum
    /// chunk) is carried whole into the next; cut points do not depend on the read size (tested).
    let readSize: Int
    static let defaultReadSize = 2 << 20

    /// Hashes one chunk, and stores it when it is new. Returns its extent.
    private func saveChunk(_ block: Block, _ range: Range<Int>) async throws -> Extent {
        let (id, sealed) = try block.bytes.withUnsafeBytes { raw in try seal(UnsafeRawBufferPointer(rebasing: raw[range])) }
        return try await store(id, sealed, length: range.count)
    }

    /// Hashes a chunk and, when the repository does not have it yet (and no other task claimed it),
    /// compresses and encrypts it.
    func seal(_ chunk: UnsafeRawBufferPointer) throws -> (BlobID, SealedBlob?) {
        let id = BlobID(bytes: SHA256.hash(chunk))
        guard repository.claim(id) else { return (id, nil) }
        return (id, try repository.sealBlob(.data, id: id, plaintext: chunk))
    }

    /// Packs a sealed chunk (if it is new) and counts it. Returns its extent.
    func store(_ id: BlobID, _ sealed: SealedBlob?, length: Int) async throws -> Extent {
        if let sealed {
            let stored = try await repository.addToPack(sealed)
            counters.withLock { c in c.blobsAdded += 1; c.bytesAdded += UInt64(length); c.bytesStored += UInt64(stored) }
        }
        return Extent(chunk: id, length: length)
    }

    /// Chunks and stores everything `reader` yields. `expectedLength` (when known) sizes the first read
    /// so that a small file is read with one call and processed without spawning tasks.
    func save(_ reader: inout some ContentReader, expectedLength: Int64?) async throws -> (extents: [Extent], length: UInt64) {
        let readSize = self.readSize
        var carry: ArraySlice<UInt8> = []
        var extents: [Extent] = []
        var total: UInt64 = 0
        var pending: [Int: Extent] = [:]
        var spawned = 0

        return try await withThrowingTaskGroup(of: (Int, Extent).self) { group in
            var eof = false
            while !eof {
                // Size the block: all of a small file at once, otherwise carry + readSize.
                let want: Int
                if let expectedLength, total == 0, expectedLength <= Int64(readSize) { want = Int(expectedLength) + 1 } else { want = readSize }
                let capacity = carry.count + want
                await budget.acquire(capacity)
                do { try await reader.prepare(want) } catch { budget.release(capacity); throw error }
                var filled = carry.count
                let bytes: [UInt8]
                do {
                    // Uninitialized: the read fills it, nothing needs zeroing first.
                    bytes = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                        let raw = UnsafeMutableRawBufferPointer(buffer)
                        if !carry.isEmpty { carry.withUnsafeBytes { raw.copyMemory(from: $0) } }
                        defer { count = filled }
                        while filled < capacity {
                            let n = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
                            if n == 0 { eof = true; break }
                            filled += n
                        }
                    }
                } catch { budget.release(capacity); throw error }
                total += UInt64(filled - carry.count)
                counters.withLock { $0.bytesRead += UInt64(filled - carry.count) }
                let block = Block(bytes: bytes, limiter: budget, charged: capacity)
                let cuts = block.bytes.withUnsafeBytes { raw in
                    // Big blocks use the exact-parallel chunker (same cut points) where there are cores
                    // to spare; on 2 cores the sequential scan, which skips the bytes below minSize, is as
                    // fast as two parallel threads (docs/benchmarks.md) and leaves a core for hashing.
                    parallelChunking && raw.count >= 4 << 20
                        ? repository.chunker.parallelCutPoints(in: raw, isFinal: eof, concurrency: max(2, ContentSaver.cores))
                        : repository.chunker.cutPoints(in: raw, isFinal: eof)
                }
                var start = 0
                if eof, spawned == 0, cuts.count <= 1 {
                    // One chunk (or none): do it inline, no task.
                    if let end = cuts.first, end > 0 { extents.append(try await saveChunk(block, 0..<end)) }
                    return (extents, total)
                }
                for end in cuts {
                    let index = spawned, range = start..<end
                    spawned += 1
                    group.addTask { (index, try await self.saveChunk(block, range)) }
                    start = end
                }
                carry = block.bytes[start...]
            }
            while let (i, e) = try await group.next() { pending[i] = e }
            extents = (0..<spawned).map { pending[$0]! }
            return (extents, total)
        }
    }
}
