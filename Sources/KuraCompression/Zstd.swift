import CZstd

/// One-shot zstd (RFC 8878) compression of independent chunks through libzstd.
///
/// Frames carry their content size and no checksum (chunks are authenticated
/// by AES-GCM after compression). Thread-safe: every call uses its own
/// context; to avoid allocating one per call on a hot path, keep a
/// ``ZstdCompressor`` per worker.
public enum Zstd {
    /// The lowest accepted compression level (negative levels are zstd's "fast" modes).
    public static var minLevel: Int { Int(ZSTD_minCLevel()) }
    /// The highest accepted compression level (22).
    public static var maxLevel: Int { Int(ZSTD_maxCLevel()) }

    /// Compressed frame, or nil when the result would not be smaller than the input (store raw then).
    ///
    /// `level` is clamped to ``minLevel``...``maxLevel``; 0 means zstd's default (3).
    /// Stops the process only if libzstd cannot allocate its working memory.
    public static func compress(_ data: UnsafeRawBufferPointer, level: Int = 3) -> [UInt8]? {
        guard let context = ZSTD_createCCtx() else { fatalError("KuraCompression: ZSTD_createCCtx failed") }
        defer { ZSTD_freeCCtx(context) }
        return compress(data, level: level, context: context)
    }

    /// Compressed frame, or nil when the result would not be smaller than the input (store raw then).
    ///
    /// `level` is clamped to ``minLevel``...``maxLevel``; 0 means zstd's default (3).
    public static func compress(_ data: [UInt8], level: Int = 3) -> [UInt8]? {
        data.withUnsafeBytes { compress($0, level: level) }
    }

    /// Throws when the frame is corrupt or does not decompress to exactly `expectedSize` bytes.
    ///
    /// Accepts one or more concatenated zstd frames. Errors: `.invalidArgument`
    /// for a negative `expectedSize`, `.sizeMismatch` when the content size differs,
    /// `.corruptInput` for anything that is not valid zstd data.
    public static func decompress(_ data: UnsafeRawBufferPointer, expectedSize: Int) throws -> [UInt8] {
        guard expectedSize >= 0 else {
            throw CompressionError(.invalidArgument, "negative expected size \(expectedSize)")
        }
        guard let source = data.baseAddress, !data.isEmpty else {
            throw CompressionError(.corruptInput, "empty input is not a zstd frame")
        }
        // Check the first frame's declared size before allocating anything
        // (further concatenated frames may follow, so only "too large" is final here).
        let declared = ZSTD_getFrameContentSize(source, data.count)
        if declared == contentSizeError {
            throw CompressionError(.corruptInput, "not a valid zstd frame")
        }
        if declared != contentSizeUnknown, declared > UInt64(expectedSize) {
            throw CompressionError(.sizeMismatch,
                                   "zstd frame holds \(declared) bytes, expected \(expectedSize)")
        }
        return try [UInt8](unsafeUninitializedCapacity: max(expectedSize, 1)) { output, initialized in
            let result = ZSTD_decompress(output.baseAddress, expectedSize, source, data.count)
            if ZSTD_isError(result) != 0 {
                if ZSTD_getErrorCode(result) == ZSTD_error_dstSize_tooSmall {
                    throw CompressionError(.sizeMismatch, "zstd data is larger than expected \(expectedSize) bytes")
                }
                throw CompressionError(.corruptInput, "zstd: \(String(cString: ZSTD_getErrorName(result)))")
            }
            guard result == expectedSize else {
                throw CompressionError(.sizeMismatch, "zstd data holds \(result) bytes, expected \(expectedSize)")
            }
            initialized = result
        }
    }

    /// Throws when the frame is corrupt or does not decompress to exactly `expectedSize` bytes.
    ///
    /// See `decompress(_:expectedSize:)`.
    public static func decompress(_ data: [UInt8], expectedSize: Int) throws -> [UInt8] {
        try data.withUnsafeBytes { try decompress($0, expectedSize: expectedSize) }
    }

    // MARK: - Shared with ZstdCompressor

    /// `ZSTD_CONTENTSIZE_UNKNOWN` (a macro Swift does not import).
    private static let contentSizeUnknown = UInt64.max
    /// `ZSTD_CONTENTSIZE_ERROR` (a macro Swift does not import).
    private static let contentSizeError = UInt64.max - 1

    /// Clamps a requested level to the range libzstd accepts.
    static func clampedLevel(_ level: Int) -> Int32 {
        Int32(min(max(level, minLevel), maxLevel))
    }

    /// Compresses `data` with `context`; nil unless the frame is smaller than the input.
    static func compress(_ data: UnsafeRawBufferPointer, level: Int, context: OpaquePointer) -> [UInt8]? {
        // A frame is never smaller than 9 bytes, so tiny inputs cannot shrink.
        guard data.count > 9 else { return nil }
        // zstd is fastest when the destination can hold the worst case.
        let capacity = ZSTD_compressBound(data.count)
        let levelValue = clampedLevel(level)
        var compressedSize = 0
        let frame = [UInt8](unsafeUninitializedCapacity: capacity) { output, initialized in
            let result = ZSTD_compressCCtx(context, output.baseAddress, capacity,
                                           data.baseAddress, data.count, levelValue)
            guard ZSTD_isError(result) == 0 else {
                fatalError("KuraCompression: ZSTD_compressCCtx: \(String(cString: ZSTD_getErrorName(result)))")
            }
            compressedSize = result
            initialized = result
        }
        return compressedSize < data.count ? frame : nil
    }
}
