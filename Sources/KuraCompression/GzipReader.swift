import CZlib

/// Streaming gzip reader (inflateInit2 windowBits 47, handles concatenated members).
///
/// Feed compressed bytes in pieces of any size with `feed(_:)`; each
/// call returns the decompressed bytes that became available. A stream may hold
/// several gzip members back to back (as `cat a.gz b.gz` produces); their
/// outputs are concatenated. zlib-wrapped (RFC 1950) input is accepted as well,
/// because windowBits 47 detects the header. Each member's CRC-32 and length are
/// verified by zlib. Call ``finish()`` at end of input: it throws
/// `.truncatedInput` if the last member is incomplete or nothing was fed.
///
/// The output of one `feed` is not bounded by its input (a small input may
/// expand enormously), so feed moderate pieces. A `final class` that owns a
/// `z_stream`; **not** `Sendable`. After `finish()` or a failure, every further
/// call throws `CompressionError(.invalidState)`.
public final class GzipReader {
    private enum State { case open, finished, failed }

    private static let outputCapacity = 128 * 1024

    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutablePointer<UInt8>
    private var state = State.open
    /// True once any compressed byte was fed.
    private var sawInput = false
    /// True when the last member reached its end and no byte of a next member was seen.
    private var atMemberBoundary = false

    /// Creates a reader expecting the start of a gzip stream.
    public init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(capacity: Self.outputCapacity)
        let status = kura_inflateInit2_auto(stream)
        guard status == Z_OK else { fatalError("KuraCompression: inflateInit2 failed (\(status))") }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        output.deallocate()
    }

    /// Consumes `data` and returns the decompressed bytes available so far.
    ///
    /// Throws `.corruptInput` for data that is not gzip (bad header, bad
    /// checksum, trailing garbage after a member).
    public func feed(_ data: UnsafeRawBufferPointer) throws -> [UInt8] {
        try ensureOpen()
        guard let base = data.baseAddress, !data.isEmpty else { return [] }
        sawInput = true
        var result: [UInt8] = []
        do {
            var offset = 0
            while offset < data.count {
                let length = min(data.count - offset, 1 << 30)
                // zlib never writes through next_in.
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(length)
                try inflateAll(into: &result)
                offset += length
            }
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        } catch {
            state = .failed
            throw error
        }
        return result
    }

    /// Consumes `data` and returns the decompressed bytes available so far.
    ///
    /// Throws `.corruptInput` for data that is not gzip (bad header, bad
    /// checksum, trailing garbage after a member).
    public func feed(_ data: [UInt8]) throws -> [UInt8] {
        try data.withUnsafeBytes { try feed($0) }
    }

    /// Declares the end of input; throws `.truncatedInput` if the stream was
    /// truncated (a member is incomplete, or no input was fed at all).
    public func finish() throws {
        try ensureOpen()
        guard sawInput, atMemberBoundary else {
            state = .failed
            throw CompressionError(.truncatedInput,
                                   sawInput ? "gzip stream ends inside a member" : "empty gzip stream")
        }
        state = .finished
    }

    private func ensureOpen() throws {
        switch state {
        case .open: return
        case .finished: throw CompressionError(.invalidState, "GzipReader used after finish()")
        case .failed: throw CompressionError(.invalidState, "GzipReader used after an earlier failure")
        }
    }

    /// Inflates all available input, appending output to `result`.
    private func inflateAll(into result: inout [UInt8]) throws {
        while true {
            if atMemberBoundary {
                guard stream.pointee.avail_in > 0 else { return }
                // Another member follows: start over on the same stream.
                guard inflateReset(stream) == Z_OK else {
                    throw CompressionError(.libraryFailure, "zlib inflateReset failed")
                }
                atMemberBoundary = false
            }
            stream.pointee.next_out = output
            stream.pointee.avail_out = uInt(Self.outputCapacity)
            let status = inflate(stream, Z_NO_FLUSH)
            let produced = Self.outputCapacity - Int(stream.pointee.avail_out)
            if produced > 0 {
                result.append(contentsOf: UnsafeBufferPointer(start: output, count: produced))
            }
            switch status {
            case Z_STREAM_END:
                atMemberBoundary = true
            case Z_OK:
                // inflate stops early only when input ran out or output filled up.
                if stream.pointee.avail_in == 0, stream.pointee.avail_out > 0 { return }
            case Z_BUF_ERROR:
                return  // no progress possible: all input consumed, waiting for more
            case Z_NEED_DICT, Z_DATA_ERROR:
                throw CompressionError(.corruptInput,
                                       "invalid gzip data\(GzipWriter.zlibMessage(stream))")
            default:
                throw CompressionError(.libraryFailure,
                                       "zlib inflate failed (\(status))\(GzipWriter.zlibMessage(stream))")
            }
        }
    }
}

/// A reader owns a mutable zlib stream: it must not be shared between tasks.
@available(*, unavailable)
extension GzipReader: Sendable {}
