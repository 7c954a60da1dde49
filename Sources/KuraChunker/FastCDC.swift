/// Content-defined chunking with FastCDC (normalized chunking, level 2) over a 64-byte gear hash.
///
/// This is the repository's chunk format; every detail below decides where chunks end.
///
/// - The fingerprint at byte position `p` (for `p >= 63`) is the sum over `j` in `0...63` of
///   `gear[data[p - j]] << j`, modulo 2^64: the rolling gear hash `fp = (fp << 1) &+ gear[byte]`
///   seen over the last 64 bytes.
/// - A chunk starting at offset `s` with `n` bytes remaining is all `n` bytes when
///   `n <= minSize`. Otherwise the chunk length `l` is the first one in
///   `minSize...min(n, maxSize)` whose last byte `p = s + l - 1` has
///   `fp(p) & (l < averageSize ? smallMask : largeMask) == 0` (see ``ChunkerParameters``). With no
///   such `l` the chunk is `maxSize` bytes when `n >= maxSize`, else the `n` remaining bytes.
/// - Because `minSize >= 64`, a fingerprint that is tested only sees bytes of its own chunk, so cut
///   points depend on the content alone, not on where the buffer starts.
///
/// The sequential ``cutPoints(in:isFinal:)`` skips hashing the first `minSize - 64` bytes of each
/// chunk. ``parallelCutPoints(in:isFinal:segmentSize:concurrency:)`` hashes every byte on several
/// threads and returns the same cut points.
public struct FastCDC: Sendable {
    /// The size limits this chunker applies.
    public let parameters: ChunkerParameters
    /// The gear table this chunker hashes with.
    public let gear: GearTable

    let minSize: Int
    let averageSize: Int
    let maxSize: Int
    let smallMask: UInt64
    let largeMask: UInt64

    /// Creates a chunker.
    /// - Parameters:
    ///   - parameters: The size limits; they must pass ``ChunkerParameters/validate()``.
    ///   - gear: The gear table, usually the repository's secret table.
    /// - Precondition: `parameters` is valid. Validate values that come from outside first.
    public init(parameters: ChunkerParameters, gear: GearTable) {
        do {
            try parameters.validate()
        } catch {
            preconditionFailure("FastCDC: invalid parameters: \(error.message)")
        }
        self.parameters = parameters
        self.gear = gear
        self.minSize = parameters.minSize
        self.averageSize = parameters.averageSize
        self.maxSize = parameters.maxSize
        self.smallMask = parameters.smallMask
        self.largeMask = parameters.largeMask
    }

    /// Ends (exclusive offsets, increasing) of all chunks that are fully determined in `data`.
    ///
    /// If `isFinal`, the last end is `data.count` (all bytes are consumed; an empty buffer gives no
    /// chunk). Otherwise the bytes after the last returned end are to be kept by the caller and
    /// presented again, at the start of the next buffer, with more data appended. A chunk end is
    /// returned as soon as it is certain: when its cut condition is met inside `data`, or when
    /// `data` holds at least `maxSize` bytes from the chunk's start. So the kept tail is always
    /// shorter than `maxSize`.
    /// - Parameters:
    ///   - data: The bytes to chunk; offsets are relative to its start.
    ///   - isFinal: Whether `data` runs to the end of the stream.
    /// - Returns: The chunk ends, each greater than the one before.
    public func cutPoints(in data: UnsafeRawBufferPointer, isFinal: Bool) -> [Int] {
        let count = data.count
        guard count > 0, let base = data.baseAddress else { return [] }
        return gear.values.withUnsafeBufferPointer { table in
            let gear = table.baseAddress!
            var cuts = [Int]()
            cuts.reserveCapacity(count / averageSize + 2)
            var start = 0
            while let length = chunkLength(base, start: start, count: count, isFinal: isFinal, gear: gear) {
                start &+= length
                cuts.append(start)
            }
            return cuts
        }
    }

    /// Ends of all chunks that are fully determined in `data`; see ``cutPoints(in:isFinal:)``.
    /// - Parameters:
    ///   - data: The bytes to chunk.
    ///   - isFinal: Whether `data` runs to the end of the stream (default `true`).
    /// - Returns: The chunk ends, each greater than the one before.
    public func cutPoints(in data: [UInt8], isFinal: Bool = true) -> [Int] {
        data.withUnsafeBytes { cutPoints(in: $0, isFinal: isFinal) }
    }

    /// The length of the chunk that starts at `start`, or `nil` when no bytes remain or the chunk's
    /// end is not yet determined (`isFinal` is false and more data could still move it).
    @inline(__always)
    func chunkLength(
        _ base: UnsafeRawPointer, start: Int, count: Int, isFinal: Bool, gear: UnsafePointer<UInt64>
    ) -> Int? {
        let remaining = count &- start
        if remaining <= minSize {
            return isFinal && remaining > 0 ? remaining : nil
        }
        let limit = Swift.min(remaining, maxSize)
        // The first tested position is the last byte of a minSize chunk; its fingerprint needs the
        // 63 bytes before it and nothing earlier.
        let first = start &+ minSize &- 1
        var fp = GearScanner.roll(base, from: first &- 63, to: first, fp: 0, gear: gear)
        // Chunk lengths below averageSize use the strict mask, ...
        let normal = start &+ Swift.min(averageSize &- 1, limit)
        var p = GearScanner.scan(base, from: first, to: normal, fp: &fp, mask: smallMask, gear: gear)
        if p < normal { return p &- start &+ 1 }
        // ... lengths from averageSize to the limit the loose one.
        let end = start &+ limit
        p = GearScanner.scan(base, from: normal, to: end, fp: &fp, mask: largeMask, gear: gear)
        if p < end { return p &- start &+ 1 }
        if remaining >= maxSize { return maxSize }
        return isFinal ? remaining : nil
    }
}
