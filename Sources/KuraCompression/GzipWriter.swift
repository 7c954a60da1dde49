import CZlib

/// Streaming gzip (RFC 1952) writer through zlib deflateInit2(windowBits 31).
///
/// Compressed bytes are handed to `sink` in pieces of up to 128 KiB as zlib
/// produces them; ``finish()`` flushes the rest and writes the gzip trailer
/// (CRC-32 and length). The header is zlib's minimal one (no name, mtime 0), so
/// equal input gives equal output. If the writer is dropped without `finish()`,
/// the stream is left incomplete.
///
/// A `final class` that owns a `z_stream`; **not** `Sendable`: use it from one
/// task at a time. After `finish()`, or after `sink` or zlib threw, every
/// further call throws `CompressionError(.invalidState)`.
public final class GzipWriter {
    private enum State { case open, finished, failed }

    private static let outputCapacity = 128 * 1024

    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutablePointer<UInt8>
    private var outputUsed = 0
    private let sink: ([UInt8]) throws -> Void
    private var state = State.open

    /// Creates a writer with deflate `level` (clamped to 0...9; 0 stores, 9 is
    /// smallest) that passes compressed bytes to `sink`.
    public init(level: Int = 6, sink: @escaping ([UInt8]) throws -> Void) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(capacity: Self.outputCapacity)
        self.sink = sink
        let status = kura_deflateInit2_gzip(stream, Int32(min(max(level, 0), 9)))
        // With a valid level the only possible failure is Z_MEM_ERROR.
        guard status == Z_OK else { fatalError("KuraCompression: deflateInit2 failed (\(status))") }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        output.deallocate()
    }

    /// Compresses `data` into the stream (output reaches `sink` as buffers fill).
    public func write(_ data: UnsafeRawBufferPointer) throws {
        try ensureOpen()
        guard let base = data.baseAddress, !data.isEmpty else { return }
        do {
            var offset = 0
            while offset < data.count {
                let length = min(data.count - offset, 1 << 30)
                // zlib never writes through next_in (it is only non-const for
                // historical reasons).
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(length)
                try deflateAll(flush: Z_NO_FLUSH)
                offset += length
            }
            stream.pointee.next_in = nil
        } catch {
            state = .failed
            throw error
        }
    }

    /// Compresses `data` into the stream (output reaches `sink` as buffers fill).
    public func write(_ data: [UInt8]) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Ends the stream: flushes all pending output and the gzip trailer to `sink`.
    public func finish() throws {
        try ensureOpen()
        do {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
            try deflateAll(flush: Z_FINISH)
            try emit()
            state = .finished
        } catch {
            state = .failed
            throw error
        }
    }

    private func ensureOpen() throws {
        switch state {
        case .open: return
        case .finished: throw CompressionError(.invalidState, "GzipWriter used after finish()")
        case .failed: throw CompressionError(.invalidState, "GzipWriter used after an earlier failure")
        }
    }

    /// Runs deflate until it has consumed all input (Z_NO_FLUSH) or ended the stream (Z_FINISH).
    private func deflateAll(flush: Int32) throws {
        while true {
            if outputUsed == Self.outputCapacity { try emit() }
            stream.pointee.next_out = output + outputUsed
            stream.pointee.avail_out = uInt(Self.outputCapacity - outputUsed)
            let status = deflate(stream, flush)
            outputUsed = Self.outputCapacity - Int(stream.pointee.avail_out)
            switch status {
            case Z_STREAM_END:
                return
            case Z_OK:
                if flush == Z_NO_FLUSH, stream.pointee.avail_in == 0, stream.pointee.avail_out > 0 { return }
            case Z_BUF_ERROR where flush == Z_NO_FLUSH:
                return  // nothing left to do until more input arrives
            default:
                throw CompressionError(.libraryFailure, "zlib deflate failed (\(status))\(Self.zlibMessage(stream))")
            }
        }
    }

    /// Hands the buffered output to `sink`.
    private func emit() throws {
        guard outputUsed > 0 else { return }
        let chunk = Array(UnsafeBufferPointer(start: output, count: outputUsed))
        outputUsed = 0
        try sink(chunk)
    }

    /// zlib's `msg` for the stream, formatted as ": text", or "".
    static func zlibMessage(_ stream: UnsafeMutablePointer<z_stream>) -> String {
        guard let message = stream.pointee.msg else { return "" }
        return ": " + String(cString: message)
    }
}

/// A writer owns a mutable zlib stream: it must not be shared between tasks.
@available(*, unavailable)
extension GzipWriter: Sendable {}
