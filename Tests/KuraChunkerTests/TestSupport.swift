import KuraChunker
import KuraTestSupport

// SplitMix64 (the documented generator behind the golden inputs, and a seedable RNG for the
// property tests, so every failure can be replayed from its seed) comes from KuraTestSupport.

/// The input generators of `Vectors/reference_fastcdc.py`.
enum InputGenerator {
    /// SplitMix64 outputs from `seed`, eight little-endian bytes each, cut to `length`.
    static func splitmix(seed: UInt64, length: Int) -> [UInt8] { randomBytes(length, seed: seed) }

    /// Runs of one byte: `r = next()`, byte `r & 0xFF` repeated `1 + (r >> 8) % 4096` times.
    static func runs(seed: UInt64, length: Int) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out = [UInt8]()
        out.reserveCapacity(length + 4096)
        while out.count < length {
            let r = rng.next()
            out.append(contentsOf: repeatElement(UInt8(truncatingIfNeeded: r), count: 1 + Int((r >> 8) % 4096)))
        }
        return Array(out.prefix(length))
    }

    /// Builds a named input: `splitmix`, `zeros` or `runs`.
    static func make(kind: String, seed: UInt64, length: Int) -> [UInt8]? {
        switch kind {
        case "splitmix": return splitmix(seed: seed, length: length)
        case "zeros": return [UInt8](repeating: 0, count: length)
        case "runs": return runs(seed: seed, length: length)
        default: return nil
        }
    }
}

/// Random test material.
enum RandomMaterial {
    /// Random valid small parameters: minSize in 64...4096, averageSize the smallest power of two
    /// above minSize times 1, 2, 4 or 8, maxSize anywhere above averageSize up to 8 times it.
    static func parameters(using rng: inout SplitMix64) -> ChunkerParameters {
        let minSize = Int.random(in: 64...4096, using: &rng)
        var averageBits = (minSize + 1).nextPowerOfTwoExponent
        averageBits += Int.random(in: 0...3, using: &rng)
        let averageSize = 1 << averageBits
        let maxSize = Int.random(in: (averageSize + 1)...(averageSize * 8), using: &rng)
        return ChunkerParameters(minSize: minSize, averageSize: averageSize, maxSize: maxSize)
    }

    /// A buffer of `count` bytes made of random stretches, runs of one repeated byte and short
    /// repeating patterns, so that both cut-point paths (content cuts and maxSize cuts) occur.
    static func bytes(count: Int, using rng: inout SplitMix64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            let stretch = Swift.min(count - out.count, Int.random(in: 1...40_000, using: &rng))
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...5:
                for _ in 0..<stretch { out.append(UInt8.random(in: 0...255, using: &rng)) }
            case 6, 7:
                out.append(contentsOf: repeatElement(UInt8.random(in: 0...255, using: &rng), count: stretch))
            default:
                let period = Int.random(in: 1...300, using: &rng)
                let pattern = (0..<period).map { _ in UInt8.random(in: 0...255, using: &rng) }
                for index in 0..<stretch { out.append(pattern[index % period]) }
            }
        }
        return out
    }
}

extension Int {
    /// The exponent of the smallest power of two that is >= self (self >= 1).
    var nextPowerOfTwoExponent: Int {
        self <= 1 ? 0 : Int.bitWidth - (self - 1).leadingZeroBitCount
    }
}

/// A literal, unoptimised transcription of the definition (as in the Python reference): hash every
/// byte of each chunk from its start, test from minSize on.
enum NaiveFastCDC {
    static func cutPoints(_ data: [UInt8], parameters: ChunkerParameters, gear: GearTable) -> [Int] {
        let maskS = parameters.smallMask
        let maskL = parameters.largeMask
        var ends = [Int]()
        var start = 0
        while start < data.count {
            let remaining = data.count - start
            if remaining <= parameters.minSize {
                ends.append(data.count)
                break
            }
            let limit = Swift.min(remaining, parameters.maxSize)
            var fp: UInt64 = 0
            var length: Int? = nil
            for p in start..<(start + limit) {
                fp = (fp << 1) &+ gear[data[p]]
                let l = p - start + 1
                if l < parameters.minSize { continue }
                let mask = l < parameters.averageSize ? maskS : maskL
                if fp & mask == 0 {
                    length = l
                    break
                }
            }
            start += length ?? (remaining >= parameters.maxSize ? parameters.maxSize : remaining)
            ends.append(start)
        }
        return ends
    }
}

/// Splits `data` at the given ends into chunks.
func chunks(of data: [UInt8], ends: [Int]) -> [ArraySlice<UInt8>] {
    var start = 0
    return ends.map { end in
        defer { start = end }
        return data[start..<end]
    }
}
