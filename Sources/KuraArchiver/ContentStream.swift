import KuraRepository

/// Content that is pushed in pieces rather than read (a gzip member being decompressed, the contents
/// of a tar entry): cut with the repository's chunker, and every chunk stored through the same
/// ``ContentSaver`` as file contents, so dedup, compression, encryption and packing are one mechanism.
///
/// Use it inside a lock scope (see `Repository.withLock`); call ``append(_:)`` for each piece and
/// ``finish()`` at the end of each stream (the object can then take the next stream). Memory: at most
/// two maximum-size chunks are buffered.
public final class ContentStream {
    let saver: ContentSaver
    private var buffer: [UInt8] = []
    private var extents: [Extent] = []
    private var length: UInt64 = 0

    public init(repository: Repository) {
        saver = ContentSaver(repository: repository, inFlightBytes: 4 * repository.chunker.parameters.maxSize, parallelChunking: false)
    }

    /// What has been stored so far, over all streams.
    public var blobsAdded: Int { saver.totals.blobsAdded }
    public var bytesAdded: UInt64 { saver.totals.bytesAdded }
    public var bytesStored: UInt64 { saver.totals.bytesStored }

    /// Adds bytes of the current stream.
    public func append(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        buffer += bytes
        length += UInt64(bytes.count)
        if buffer.count >= 2 * saver.repository.chunker.parameters.maxSize { try await cut(final: false) }
    }

    /// Ends the current stream: returns its extents and length, and starts a new one.
    public func finish() async throws -> (extents: [Extent], length: UInt64) {
        try await cut(final: true)
        defer { extents = []; length = 0; buffer = [] }
        return (extents, length)
    }

    private func cut(final: Bool) async throws {
        guard !buffer.isEmpty else { return }
        let cuts = saver.repository.chunker.cutPoints(in: buffer, isFinal: final)
        var start = 0
        for end in cuts where end > start {
            let (id, sealed) = try buffer.withUnsafeBytes { raw in try saver.seal(UnsafeRawBufferPointer(rebasing: raw[start..<end])) }
            extents.append(try await saver.store(id, sealed, length: end - start))
            start = end
        }
        saver.counters.withLock { $0.bytesRead += UInt64(start) }
        buffer.removeFirst(start)
    }
}
