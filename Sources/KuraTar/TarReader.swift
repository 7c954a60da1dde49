/// Reads a tar archive from a stream of bytes fed in pieces of any size.
///
/// Understands POSIX ustar, pax (`x` local and `g` global extended headers, including
/// `SCHILY.xattr.*`, `hdrcharset` and fractional `mtime`), GNU (`L`/`K` long names, base-256
/// numbers, `D` dump directories, `V` volume labels) and old V7 headers. GNU sparse files and
/// multi-volume archives are rejected with ``TarError/Code/unsupported``.
///
/// Every entry yields `.header(entry)`, then for files (and hard links that carry data)
/// `.contents` pieces totalling `entry.size` bytes, then `.endOfEntry`. The first zero block
/// yields `.endOfArchive`; everything after it (such as padding to GNU tar's 10 KiB
/// record) is ignored. Paths are reported as stored, except that directories lose their
/// trailing `/`. After an error the reader rethrows it on every call. Not thread-safe.
public final class TarReader {
    /// Something the reader found in the archive, in archive order.
    public enum Event: Sendable, Equatable {
        /// The start of an entry.
        case header(TarEntry)
        /// The next piece of the current entry's contents.
        case contents([UInt8])
        /// The end of the current entry (after all its contents).
        case endOfEntry
        /// The end-of-archive marker; no more events follow.
        case endOfArchive
    }

    /// Largest pax or GNU long-name extension accepted, to bound memory on hostile input.
    static let maxExtensionSize: Int64 = 64 * 1024 * 1024

    private enum Disposition {
        /// Entry contents, passed on as `.contents` and followed by `.endOfEntry`.
        case contents
        /// Entry data that is skipped, followed by `.endOfEntry`.
        case ignored
        /// Data that is skipped without any event (a GNU volume label).
        case silent
        /// Extension data (pax or GNU long name) collected for the next entry.
        case collect(typeflag: UInt8)
    }

    private enum State {
        case header
        case data(remaining: Int64, padding: Int, disposition: Disposition)
        case padding(remaining: Int, disposition: Disposition)
        case end
    }

    private var state = State.header
    private var block: [UInt8] = []
    private var collected: [UInt8] = []
    private var globalPax = PaxExtendedHeader()
    private var localPax = PaxExtendedHeader()
    private var longName: [UInt8]?
    private var longLink: [UInt8]?
    private var hasPendingExtension = false
    /// Archive offset of the next byte to be consumed.
    private var offset: Int64 = 0
    private var failure: TarError?
    private var finished = false

    /// Creates a reader positioned at the start of an archive.
    public init() {
        block.reserveCapacity(TarHeader.blockSize)
    }

    /// Consumes the next bytes of the archive and returns the events they complete.
    ///
    /// - Throws: ``TarError`` with ``TarError/Code/badChecksum``,
    ///   ``TarError/Code/malformedHeader`` or ``TarError/Code/unsupported`` when the archive
    ///   is damaged or uses an unsupported feature.
    public func feed(_ bytes: [UInt8]) throws -> [Event] {
        if let failure { throw failure }
        if finished { throw TarError(.invalidState, "feed after finish") }
        var events: [Event] = []
        do {
            try consume(bytes, into: &events)
        } catch let error as TarError {
            failure = error
            throw error
        }
        return events
    }

    /// Declares the end of input.
    ///
    /// - Throws: ``TarError/Code/truncated`` if the archive ended inside an entry or
    ///   extension header, or before its end-of-archive marker.
    public func finish() throws {
        if let failure { throw failure }
        finished = true
        switch state {
        case .end:
            return
        case .header where block.isEmpty && !hasPendingExtension:
            let error = TarError(.truncated, "archive ends at offset \(offset) without an end-of-archive marker")
            failure = error
            throw error
        default:
            let error = TarError(.truncated, "archive ends at offset \(offset) inside an entry")
            failure = error
            throw error
        }
    }

    // MARK: Parsing

    private func consume(_ bytes: [UInt8], into events: inout [Event]) throws {
        var index = 0
        while index < bytes.count {
            switch state {
            case .end:
                offset += Int64(bytes.count - index)
                return

            case .header:
                let count = min(TarHeader.blockSize - block.count, bytes.count - index)
                block.append(contentsOf: bytes[index..<(index + count)])
                index += count
                offset += Int64(count)
                if block.count == TarHeader.blockSize {
                    let header = block
                    block.removeAll(keepingCapacity: true)
                    try processHeader(header, at: offset - Int64(TarHeader.blockSize), into: &events)
                }

            case .data(let remaining, let padding, let disposition):
                let count = Int(min(remaining, Int64(bytes.count - index)))
                switch disposition {
                case .contents: events.append(.contents(Array(bytes[index..<(index + count)])))
                case .collect: collected.append(contentsOf: bytes[index..<(index + count)])
                case .ignored, .silent: break
                }
                index += count
                offset += Int64(count)
                if remaining == Int64(count) {
                    if padding > 0 {
                        state = .padding(remaining: padding, disposition: disposition)
                    } else {
                        try endData(disposition, into: &events)
                    }
                } else {
                    state = .data(remaining: remaining - Int64(count), padding: padding, disposition: disposition)
                }

            case .padding(let remaining, let disposition):
                let count = min(remaining, bytes.count - index)
                index += count
                offset += Int64(count)
                if remaining == count {
                    try endData(disposition, into: &events)
                } else {
                    state = .padding(remaining: remaining - count, disposition: disposition)
                }
            }
        }
    }

    private func processHeader(_ header: [UInt8], at headerOffset: Int64, into events: inout [Event]) throws {
        if TarHeader.isZeroBlock(header) {
            if hasPendingExtension {
                throw TarError(.malformedHeader, "extension header at offset \(headerOffset) is followed by the end of the archive")
            }
            state = .end
            events.append(.endOfArchive)
            return
        }
        let stored = try TarHeader.readNumber(header, TarHeader.checksum, "checksum")
        let computed = TarHeader.checksums(of: header)
        guard stored == computed.unsigned || stored == computed.signed else {
            throw TarError(.badChecksum,
                           "header at offset \(headerOffset): checksum \(stored) stored, \(computed.unsigned) computed")
        }
        let typeflag = header[TarHeader.typeflag]
        switch typeflag {
        case TarHeader.Typeflag.paxLocal, TarHeader.Typeflag.paxGlobal,
             TarHeader.Typeflag.gnuLongName, TarHeader.Typeflag.gnuLongLink:
            let size = try TarHeader.readNumber(header, TarHeader.size, "size")
            guard size >= 0, size <= TarReader.maxExtensionSize else {
                throw TarError(.malformedHeader, "extension header at offset \(headerOffset) has size \(size)")
            }
            collected.removeAll(keepingCapacity: true)
            hasPendingExtension = true
            try startData(size, .collect(typeflag: typeflag), into: &events)

        case TarHeader.Typeflag.gnuVolumeLabel:
            let size = try TarHeader.readNumber(header, TarHeader.size, "size")
            try startData(max(size, 0), .silent, into: &events)

        case TarHeader.Typeflag.gnuSparse, TarHeader.Typeflag.gnuMultiVolume, TarHeader.Typeflag.gnuOldLongName:
            throw TarError(.unsupported,
                           "header at offset \(headerOffset): GNU entry type \(TarEntryDecoder.describe(typeflag)) is not supported")

        default:
            var pax = globalPax
            pax.merge(localPax)
            let decoded = try TarEntryDecoder.decode(
                block: header, longName: longName, longLink: longLink, pax: pax, offset: headerOffset)
            localPax = PaxExtendedHeader()
            longName = nil
            longLink = nil
            hasPendingExtension = false
            events.append(.header(decoded.entry))
            switch decoded.data {
            case .contents(let size): try startData(size, .contents, into: &events)
            case .ignored(let size): try startData(size, .ignored, into: &events)
            }
        }
    }

    private func startData(_ size: Int64, _ disposition: Disposition, into events: inout [Event]) throws {
        if size == 0 {
            try endData(disposition, into: &events)
        } else {
            state = .data(remaining: size, padding: TarEntryEncoder.padding(for: size), disposition: disposition)
        }
    }

    private func endData(_ disposition: Disposition, into events: inout [Event]) throws {
        state = .header
        switch disposition {
        case .contents, .ignored:
            events.append(.endOfEntry)
        case .silent:
            break
        case .collect(let typeflag):
            let data = collected
            collected.removeAll(keepingCapacity: false)
            switch typeflag {
            case TarHeader.Typeflag.paxLocal:
                // Kept verbatim (empty values included) so they can delete global records.
                localPax.records += try PaxExtendedHeader.parse(data).records
            case TarHeader.Typeflag.paxGlobal:
                globalPax.merge(try PaxExtendedHeader.parse(data))
                // A global header stands alone; it is not an extension of the next entry.
                hasPendingExtension = longName != nil || longLink != nil || !localPax.isEmpty
            case TarHeader.Typeflag.gnuLongName:
                longName = TarReader.upToNUL(data)
            default:
                longLink = TarReader.upToNUL(data)
            }
        }
    }

    private static func upToNUL(_ data: [UInt8]) -> [UInt8] {
        if let end = data.firstIndex(of: 0) { return Array(data[..<end]) }
        return data
    }
}
