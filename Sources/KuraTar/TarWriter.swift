/// Streams a POSIX.1-2001 pax tar archive to a sink.
///
/// Usage: for every entry call ``writeHeader(_:)``, then for files ``writeContents(_:)``
/// with exactly `entry.size` bytes in any number of calls, then ``finishEntry()``; end the
/// archive with ``finish()``. Output is collected into 64 KiB chunks, so the sink is called
/// with exactly 64 KiB at a time except for the last call made by ``finish()``.
///
/// Headers are plain ustar (`ustar\0` magic, version `00`) whenever the entry fits; a pax
/// extended header (`x`, named `PaxHeaders/<basename>` as GNU tar does) precedes the ustar
/// block only for the fields that need it. Hard links are typeflag `1` with the target's
/// archive path as link name.
///
/// If the sink throws, its error is rethrown unchanged and the writer refuses further use.
/// Usage errors (``TarError/Code/contentsTooLong``, ``TarError/Code/contentsTooShort``,
/// ``TarError/Code/invalidEntry``, ``TarError/Code/invalidState``) write nothing and leave the
/// writer as it was. Not thread-safe: use one writer from one task at a time.
public final class TarWriter {
    private enum State {
        case idle
        case entry(path: String, size: Int64, remaining: Int64)
        case finished
        case failed
    }

    /// Bytes handed to the sink per call.
    static let chunkSize = 64 * 1024

    private let sink: ([UInt8]) throws -> Void
    private var buffer: [UInt8]
    private var filled = 0
    private var state = State.idle

    /// Creates a writer that hands archive bytes to `sink` in 64 KiB chunks.
    public init(sink: @escaping ([UInt8]) throws -> Void) {
        self.sink = sink
        self.buffer = [UInt8](repeating: 0, count: TarWriter.chunkSize)
    }

    /// Starts an entry: writes its header (and pax extended header if needed).
    ///
    /// - Throws: ``TarError/Code/invalidEntry`` if the entry's fields disagree with its kind
    ///   or cannot be stored; ``TarError/Code/invalidState`` if an entry is still open or the
    ///   archive is finished; any error of the sink.
    public func writeHeader(_ entry: TarEntry) throws {
        try checkUsable()
        if case .entry(let path, _, _) = state {
            throw TarError(.invalidState, "writeHeader before finishEntry of '\(path)'")
        }
        let header = try TarEntryEncoder.encode(entry)
        try emit(header)
        // A sparse file's map is part of the header bytes (a whole number of blocks), so the padding
        // after the contents depends on the regions' bytes alone.
        let length = TarEntryEncoder.contentLength(entry)
        state = .entry(path: entry.displayPath, size: length, remaining: length)
    }

    /// Appends content bytes to the open file entry.
    ///
    /// - Throws: ``TarError/Code/contentsTooLong`` (writing nothing) if the bytes would exceed
    ///   the entry's size; ``TarError/Code/invalidState`` if no entry is open.
    public func writeContents(_ bytes: UnsafeRawBufferPointer) throws {
        try checkUsable()
        guard case .entry(let path, let size, let remaining) = state else {
            throw TarError(.invalidState, "writeContents without an open entry")
        }
        guard Int64(bytes.count) <= remaining else {
            throw TarError(.contentsTooLong,
                           "entry '\(path)' has size \(size) but \(size - remaining + Int64(bytes.count)) bytes were written")
        }
        try emit(bytes)
        state = .entry(path: path, size: size, remaining: remaining - Int64(bytes.count))
    }

    /// Appends content bytes to the open file entry; see the `UnsafeRawBufferPointer` overload.
    public func writeContents(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeContents($0) }
    }

    /// Ends the open entry, padding its contents to a 512-byte boundary.
    ///
    /// - Throws: ``TarError/Code/contentsTooShort`` (leaving the entry open) if fewer than
    ///   `size` bytes were written; ``TarError/Code/invalidState`` if no entry is open.
    public func finishEntry() throws {
        try checkUsable()
        guard case .entry(let path, let size, let remaining) = state else {
            throw TarError(.invalidState, "finishEntry without an open entry")
        }
        guard remaining == 0 else {
            throw TarError(.contentsTooShort,
                           "entry '\(path)' has size \(size) but only \(size - remaining) bytes were written")
        }
        try emitZeros(TarEntryEncoder.padding(for: size))
        state = .idle
    }

    /// Ends the archive with two zero blocks and hands all remaining bytes to the sink.
    ///
    /// - Throws: ``TarError/Code/invalidState`` if an entry is open or the archive is
    ///   already finished; any error of the sink.
    public func finish() throws {
        try checkUsable()
        if case .entry(let path, _, _) = state {
            throw TarError(.invalidState, "finish before finishEntry of '\(path)'")
        }
        try emitZeros(2 * TarHeader.blockSize)
        try flush()
        state = .finished
    }

    // MARK: Buffering

    private func checkUsable() throws {
        switch state {
        case .finished: throw TarError(.invalidState, "the archive is already finished")
        case .failed: throw TarError(.invalidState, "the sink failed earlier; the archive is incomplete")
        case .idle, .entry: return
        }
    }

    private func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, TarWriter.chunkSize - filled)
            let start = filled
            buffer.withUnsafeMutableBytes { destination in
                UnsafeMutableRawBufferPointer(rebasing: destination[start..<(start + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            }
            filled += count
            offset += count
            if filled == TarWriter.chunkSize { try flush() }
        }
    }

    private func emitZeros(_ count: Int) throws {
        var remaining = count
        while remaining > 0 {
            let chunk = min(remaining, TarWriter.chunkSize - filled)
            let start = filled
            buffer.withUnsafeMutableBytes { destination in
                _ = UnsafeMutableRawBufferPointer(rebasing: destination[start..<(start + chunk)])
                    .initializeMemory(as: UInt8.self, repeating: 0)
            }
            filled += chunk
            remaining -= chunk
            if filled == TarWriter.chunkSize { try flush() }
        }
    }

    private func flush() throws {
        guard filled > 0 else { return }
        let chunk = filled == TarWriter.chunkSize ? buffer : Array(buffer[0..<filled])
        filled = 0
        do {
            try sink(chunk)
        } catch {
            state = .failed
            throw error
        }
    }
}
