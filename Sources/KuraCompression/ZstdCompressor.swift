import CZstd

/// Reusable per-thread compressor (keeps a ZSTD_CCtx); a final class, not Sendable, documented.
///
/// Keeping the compression context avoids reallocating and re-zeroing zstd's
/// tables for every chunk. An instance is **not** `Sendable` and must be used by
/// one task at a time: give every worker its own compressor. Its output is
/// identical to `Zstd/compress(_:level:)` and is
/// read back with `Zstd/decompress(_:expectedSize:)`.
public final class ZstdCompressor {
    private let context: OpaquePointer
    /// The compression level this compressor uses (after clamping to the valid range).
    public let level: Int

    /// Creates a compressor for `level` (clamped to `Zstd.minLevel...Zstd.maxLevel`; 0 means 3).
    public init(level: Int = 3) {
        guard let context = ZSTD_createCCtx() else { fatalError("KuraCompression: ZSTD_createCCtx failed") }
        self.context = context
        self.level = Int(Zstd.clampedLevel(level))
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// Compressed frame, or nil when the result would not be smaller than the input (store raw then).
    public func compress(_ data: UnsafeRawBufferPointer) -> [UInt8]? {
        Zstd.compress(data, level: level, context: context)
    }

    /// Compressed frame, or nil when the result would not be smaller than the input (store raw then).
    public func compress(_ data: [UInt8]) -> [UInt8]? {
        data.withUnsafeBytes { compress($0) }
    }
}

/// A compressor owns a mutable zstd context: it must not be shared between tasks.
@available(*, unavailable)
extension ZstdCompressor: Sendable {}
