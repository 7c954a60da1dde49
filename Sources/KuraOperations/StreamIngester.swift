import Foundation
import KuraChunker
import KuraCrypto
import KuraRepository

/// Cuts a stream that arrives in pieces (decompressed gzip, tar entry contents) into chunks with the
/// repository's chunker and stores the new ones. Sequential and simple: used by import-legacy, where
/// the input is produced in-process (so it cannot go through `Archiver.runStreams`, which reads only
/// command output or bytes held in memory).
final class StreamIngester {
    let repository: Repository
    private var buffer: [UInt8] = []
    private var extents: [Extent] = []
    private(set) var length: UInt64 = 0
    var blobsAdded = 0
    var bytesAdded: UInt64 = 0
    var bytesStored: UInt64 = 0

    init(repository: Repository) { self.repository = repository }

    /// Adds bytes of the current stream.
    func append(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        buffer += bytes
        length += UInt64(bytes.count)
        if buffer.count >= 2 * repository.chunker.parameters.maxSize { try await cut(final: false) }
    }

    /// Ends the current stream: returns its extents and length, and starts a new one.
    func finish() async throws -> (extents: [Extent], length: UInt64) {
        try await cut(final: true)
        defer { extents = []; length = 0; buffer = [] }
        return (extents, length)
    }

    private func cut(final: Bool) async throws {
        guard !buffer.isEmpty else { return }
        let cuts = repository.chunker.cutPoints(in: buffer, isFinal: final)
        var start = 0
        for end in cuts where end > start {
            try await store(start..<end)
            start = end
        }
        buffer.removeFirst(start)
    }

    private func store(_ range: Range<Int>) async throws {
        let (id, sealed) = try buffer.withUnsafeBytes { raw -> (BlobID, SealedBlob?) in
            let chunk = UnsafeRawBufferPointer(rebasing: raw[range])
            let id = BlobID(bytes: SHA256.hash(chunk))
            guard repository.claim(id) else { return (id, nil) }
            return (id, try repository.sealBlob(.data, id: id, plaintext: chunk))
        }
        if let sealed {
            let stored = try await repository.addToPack(sealed)
            blobsAdded += 1
            bytesAdded += UInt64(range.count)
            bytesStored += UInt64(stored)
        }
        extents.append(Extent(chunk: id, length: range.count))
    }
}
