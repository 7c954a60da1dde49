/// Size limits for FastCDC chunking.
///
/// A chunk is never shorter than ``minSize`` (except the final chunk of a stream) and never longer
/// than ``maxSize``. ``averageSize`` sets the normalization point: below it the chunker uses a
/// stricter mask with `log2(averageSize) + 2` bits, from it on a looser one with
/// `log2(averageSize) - 2` bits (FastCDC normalized chunking, level 2).
///
/// These values are part of the repository format: changing them changes every cut point.
/// Call ``validate()`` before using values that come from outside (configuration, user input).
public struct ChunkerParameters: Sendable, Hashable, CustomStringConvertible {
    /// The smallest chunk length in bytes, except for the final chunk of a stream. At least 64.
    public let minSize: Int
    /// The normalization point in bytes. Must be a power of two, `minSize < averageSize < maxSize`.
    public let averageSize: Int
    /// The largest chunk length in bytes.
    public let maxSize: Int

    /// The largest value accepted for any size (1 TiB); it keeps offset arithmetic far from overflow.
    public static let sizeLimit = 1 << 40

    /// The repository defaults: 512 KiB minimum, 1 MiB average, 8 MiB maximum.
    public static let `default` = ChunkerParameters()

    /// Creates parameters without checking them; see ``validate()``.
    /// - Parameters:
    ///   - minSize: The smallest chunk length in bytes (default 512 KiB).
    ///   - averageSize: The normalization point, a power of two (default 1 MiB).
    ///   - maxSize: The largest chunk length in bytes (default 8 MiB).
    public init(minSize: Int = 512 << 10, averageSize: Int = 1 << 20, maxSize: Int = 8 << 20) {
        self.minSize = minSize
        self.averageSize = averageSize
        self.maxSize = maxSize
    }

    /// Checks the rules: `64 <= minSize < averageSize < maxSize <= sizeLimit`, and `averageSize`
    /// a power of two.
    /// - Throws: ``ChunkerError`` naming the first rule that is broken.
    public func validate() throws(ChunkerError) {
        if minSize < 64 {
            throw ChunkerError("minSize must be at least 64 bytes (the gear hash window), got \(minSize)")
        }
        if averageSize <= 0 || averageSize & (averageSize - 1) != 0 {
            throw ChunkerError("averageSize must be a power of two, got \(averageSize)")
        }
        if minSize >= averageSize {
            throw ChunkerError("minSize (\(minSize)) must be smaller than averageSize (\(averageSize))")
        }
        if averageSize >= maxSize {
            throw ChunkerError("averageSize (\(averageSize)) must be smaller than maxSize (\(maxSize))")
        }
        if maxSize > Self.sizeLimit {
            throw ChunkerError("maxSize must be at most \(Self.sizeLimit) bytes, got \(maxSize)")
        }
    }

    /// Whether ``validate()`` would succeed.
    public var isValid: Bool {
        do {
            try validate()
            return true
        } catch {
            return false
        }
    }

    /// `log2(averageSize)`, the number of trailing zero bits of ``averageSize``.
    public var averageBits: Int {
        averageSize.trailingZeroBitCount
    }

    /// The strict mask used while a chunk is shorter than ``averageSize``: the top
    /// `averageBits + 2` bits of a `UInt64` set.
    public var smallMask: UInt64 {
        Self.topBits(averageBits + 2)
    }

    /// The loose mask used once a chunk reaches ``averageSize``: the top `averageBits - 2` bits of
    /// a `UInt64` set. Every bit of it is also set in ``smallMask``.
    public var largeMask: UInt64 {
        Self.topBits(averageBits - 2)
    }

    /// A short form such as `min 512 KiB, avg 1 MiB, max 8 MiB`.
    public var description: String {
        "min \(Self.format(minSize)), avg \(Self.format(averageSize)), max \(Self.format(maxSize))"
    }

    private static func topBits(_ count: Int) -> UInt64 {
        if count <= 0 { return 0 }
        if count >= 64 { return ~0 }
        return ~(UInt64.max >> UInt64(count))
    }

    private static func format(_ size: Int) -> String {
        if size >= 1 << 20, size % (1 << 20) == 0 { return "\(size >> 20) MiB" }
        if size >= 1 << 10, size % (1 << 10) == 0 { return "\(size >> 10) KiB" }
        return "\(size) B"
    }
}
