import KuraStore

/// One ranged read of a pack that serves several blobs: the plan of ``Repository/loadBlobs(_:maxGap:maxRead:)``.
public struct PackRead: Sendable, Equatable {
    /// The pack read.
    public var pack: BlobID
    /// The bytes of the pack read at once.
    public var range: Range<Int>
    /// The blobs inside `range`, in pack order.
    public var blobs: [BlobLocation]

    /// Groups blob locations into reads: blobs of one pack whose sealed bytes are at most `maxGap`
    /// bytes apart share a read, as long as the read stays within `maxRead` bytes (a single blob larger
    /// than that is a read of its own). Reads come out by pack, then by offset; each blob once.
    public static func plan(_ locations: [BlobLocation], maxGap: Int, maxRead: Int) -> [PackRead] {
        var byPack: [BlobID: [BlobLocation]] = [:]
        for l in locations { byPack[l.pack, default: []].append(l) }
        var reads: [PackRead] = []
        for pack in byPack.keys.sorted() {
            var current: PackRead?
            var seen = Set<BlobID>()
            for l in byPack[pack]!.sorted(by: { $0.entry.offset < $1.entry.offset }) where seen.insert(l.entry.id).inserted {
                let start = Int(l.entry.offset), end = start + Int(l.entry.length)
                if var c = current, start - c.range.upperBound <= maxGap, max(end, c.range.upperBound) - c.range.lowerBound <= maxRead {
                    c.range = c.range.lowerBound..<max(end, c.range.upperBound)
                    c.blobs.append(l)
                    current = c
                } else {
                    if let c = current { reads.append(c) }
                    current = PackRead(pack: pack, range: start..<end, blobs: [l])
                }
            }
            if let c = current { reads.append(c) }
        }
        return reads
    }
}

extension Repository {
    /// Loads many blobs with few requests: blobs of one pack that lie close together (at most `maxGap`
    /// bytes apart) come from one ranged read of at most `maxRead` bytes, and the reads run at once (as
    /// many as the store serves concurrently). On a remote store, where every request is a round trip
    /// (and billed), restoring a folder of small files this way costs about one request per pack
    /// region instead of one per file.
    ///
    /// Returns the plaintext of every blob that loaded and authenticated. A blob that is not in the
    /// index, whose read failed or that does not open is left out, not thrown: its caller loads it on
    /// its own with ``loadBlob(_:verifyHash:)``, which retries the read and names what is wrong, so that
    /// one damaged blob fails only the file that needs it. The caller bounds the memory: every blob
    /// asked for is held at once.
    public func loadBlobs(_ ids: [BlobID], maxGap: Int = 256 << 10, maxRead: Int = 8 << 20) async -> [BlobID: [UInt8]] {
        guard !ids.isEmpty else { return [:] }
        if !state.withLock({ $0.indexLoaded }) { try? await loadIndex() }
        let reads = PackRead.plan(ids.compactMap { location(of: $0) }, maxGap: maxGap, maxRead: maxRead)
        return await withTaskGroup(of: [(BlobID, [UInt8])].self) { group in
            for read in reads {
                group.addTask {
                    guard let bytes = try? await self.get(Pack.key(read.pack), range: read.range), bytes.count == read.range.count else { return [] }
                    return read.blobs.compactMap { loc in
                        let start = Int(loc.entry.offset) - read.range.lowerBound
                        let sealed = Array(bytes[start..<(start + Int(loc.entry.length))])
                        return (try? self.decodeBlob(sealed, location: loc, verifyHash: false)).map { (loc.entry.id, $0) }
                    }
                }
            }
            var out: [BlobID: [UInt8]] = [:]
            out.reserveCapacity(ids.count)
            for await loaded in group { for (id, plain) in loaded { out[id] = plain } }
            return out
        }
    }
}
