import Dispatch
import Synchronization

extension FastCDC {
    /// Same result as ``cutPoints(in:isFinal:)``, byte for byte, computed with `concurrency`
    /// threads.
    ///
    /// Candidate positions (`fp & largeMask == 0`, flagged when `fp & smallMask == 0` too) are
    /// found per segment of `segmentSize` bytes in parallel; each segment warms its hash on the 63
    /// bytes before it, so segment borders do not matter. Then one cheap sequential pass over the
    /// sorted candidates applies the minimum, average and maximum sizes. Every byte is hashed (there
    /// is no skipping below `minSize`): with the default parameters it takes about two threads to
    /// match the sequential path, which skips the first `minSize - 64` bytes of each chunk; it gains
    /// most with small averages or more cores.
    /// - Parameters:
    ///   - data: The bytes to chunk; offsets are relative to its start.
    ///   - isFinal: Whether `data` runs to the end of the stream.
    ///   - segmentSize: Bytes per unit of parallel work (default 4 MiB); must be positive.
    ///   - concurrency: The number of threads to use; 1 runs on the calling thread. The calling
    ///     thread takes part and is blocked until the scan is done.
    /// - Returns: The chunk ends, each greater than the one before.
    public func parallelCutPoints(
        in data: UnsafeRawBufferPointer, isFinal: Bool, segmentSize: Int = 4 << 20, concurrency: Int
    ) -> [Int] {
        precondition(segmentSize > 0, "FastCDC: segmentSize must be positive, got \(segmentSize)")
        let count = data.count
        guard count > 0, let base = data.baseAddress else { return [] }
        let segmentCount = (count - 1) / segmentSize + 1
        let workers = Swift.max(1, Swift.min(concurrency, segmentCount))

        let segments = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: segmentCount)
        segments.initialize(repeating: [])
        defer {
            _ = segments.deinitialize()
            segments.deallocate()
        }
        let work = SegmentWork(base: base, count: count, segmentSize: segmentSize, segments: segments)
        if workers == 1 {
            for index in 0..<segmentCount {
                work.segments[index] = candidates(work, segment: index)
            }
        } else {
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if index >= segmentCount { break }
                    // Each slot is written by exactly one thread; concurrentPerform returns only
                    // after all of them are done, which orders the writes before the reads below.
                    work.segments[index] = candidates(work, segment: index)
                }
            }
        }
        return selectCuts(segments: UnsafeBufferPointer(segments), count: count, isFinal: isFinal)
    }

    /// Same result as ``cutPoints(in:isFinal:)``, computed with `concurrency` threads; see
    /// ``parallelCutPoints(in:isFinal:segmentSize:concurrency:)``.
    /// - Parameters:
    ///   - data: The bytes to chunk.
    ///   - isFinal: Whether `data` runs to the end of the stream (default `true`).
    ///   - segmentSize: Bytes per unit of parallel work (default 4 MiB); must be positive.
    ///   - concurrency: The number of threads to use.
    /// - Returns: The chunk ends, each greater than the one before.
    public func parallelCutPoints(
        in data: [UInt8], isFinal: Bool = true, segmentSize: Int = 4 << 20, concurrency: Int
    ) -> [Int] {
        data.withUnsafeBytes {
            parallelCutPoints(in: $0, isFinal: isFinal, segmentSize: segmentSize, concurrency: concurrency)
        }
    }

    /// The candidates of one segment, in increasing order, each encoded as `position << 1 | strong`
    /// where `strong` is 1 when the fingerprint also passes the strict mask. Only positions from 63
    /// on are reported: no chunk ends earlier, and their fingerprints see a full 64-byte window.
    func candidates(_ work: SegmentWork, segment: Int) -> [Int] {
        let lower = segment * work.segmentSize
        let upper = Swift.min(lower + work.segmentSize, work.count)
        let from = Swift.max(lower, 63)
        if from >= upper { return [] }
        return gear.values.withUnsafeBufferPointer { table in
            let gear = table.baseAddress!
            let base = work.base
            var found = [Int]()
            var fp = GearScanner.roll(base, from: from &- 63, to: from, fp: 0, gear: gear)
            var p = from
            while true {
                p = GearScanner.scan(base, from: p, to: upper, fp: &fp, mask: largeMask, gear: gear)
                if p >= upper { break }
                found.append(p &<< 1 | (fp & smallMask == 0 ? 1 : 0))
                p &+= 1
            }
            return found
        }
    }

    /// Applies the size rules to the candidates of all segments, in segment order.
    func selectCuts(segments: UnsafeBufferPointer<[Int]>, count: Int, isFinal: Bool) -> [Int] {
        var cuts = [Int]()
        cuts.reserveCapacity(count / averageSize + 2)
        var cursor = CandidateCursor(segments: segments)
        var start = 0
        while true {
            let remaining = count - start
            if remaining <= minSize {
                if isFinal && remaining > 0 { cuts.append(count) }
                break
            }
            let limit = Swift.min(remaining, maxSize)
            let first = start + minSize - 1
            let last = start + limit - 1
            var length: Int? = nil
            cursor.skip(below: first)
            while let candidate = cursor.current {
                let position = candidate >> 1
                if position > last { break }
                cursor.advance()
                let candidateLength = position - start + 1
                if candidateLength >= averageSize || candidate & 1 == 1 {
                    length = candidateLength
                    break
                }
            }
            if let length {
                start += length
            } else if remaining >= maxSize {
                start += maxSize
            } else {
                if isFinal { cuts.append(count) }
                break
            }
            cuts.append(start)
        }
        return cuts
    }
}
