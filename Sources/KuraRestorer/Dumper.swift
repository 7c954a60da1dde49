import KuraCompression
import KuraFileSystem
import KuraRepository
import KuraTar

/// `kura dump`: a directory (or file) of a snapshot as a tar or tar.gz stream.
public struct Dumper: Sendable {
    public enum Format: String, Sendable, CaseIterable { case tar, tarGz = "tar.gz" }

    public let browser: SnapshotBrowser

    public init(browser: SnapshotBrowser) { self.browser = browser }

    /// Writes the archive to `sink`. Paths in the archive are relative to the dumped directory's parent
    /// (dumping `/var/lib/app` gives `app/...`; dumping the root gives the full relative paths).
    /// `drain`, when given, is awaited after every piece of file content and every entry, so a caller whose
    /// `sink` only buffers (an HTTP response) can send what was written and hold the dump back meanwhile.
    public func dump(_ entry: SnapshotEntry, format: Format, sink: @escaping ([UInt8]) throws -> Void,
                     drain: () async throws -> Void = {}) async throws {
        let gzip = format == .tarGz ? GzipWriter(level: 6, sink: sink) : nil
        let tar = TarWriter(sink: { bytes in if let gzip { try gzip.write(bytes) } else { try sink(bytes) } })
        let streamer = ContentStreamer(repository: browser.repository)
        let components = PathBytes.components(entry.path)
        let base = components.dropLast().count  // components to strip
        var linked: [String: [UInt8]] = [:]  // device:inode → first path in the archive

        func relative(_ path: [UInt8]) -> [UInt8] {
            PathBytes.components(path).dropFirst(base).joined(separator: [47]).map { $0 }
        }

        func add(_ e: SnapshotEntry, preloaded: [BlobID: [UInt8]] = [:]) async throws {
            guard let node = e.node else { return }
            var t = TarEntry(path: relative(e.path), kind: .file)
            t.mode = node.mode; t.uid = node.uid; t.gid = node.gid
            t.userName = node.user; t.groupName = node.group
            t.modificationSeconds = node.mtime.seconds; t.modificationNanoseconds = node.mtime.nanoseconds
            t.extendedAttributes = node.xattrs.map { TarEntry.ExtendedAttribute(name: String(decoding: $0.name, as: UTF8.self), value: $0.value) }
            switch node.type {
            case .file:
                let key = "\(node.device):\(node.inode)"
                if node.links > 1, let first = linked[key] {
                    t.kind = .hardLink; t.linkTarget = first
                } else {
                    if node.links > 1 { linked[key] = t.path }
                    t.size = Int64(node.size)
                    t.sparseRegions = Dumper.dataRegions(node)
                }
            case .directory: t.kind = .directory
            case .symlink: t.kind = .symlink; t.linkTarget = node.linkTarget
            case .fifo: t.kind = .fifo
            case .characterDevice, .blockDevice:
                t.kind = node.type == .characterDevice ? .characterDevice : .blockDevice
                                (t.deviceMajor, t.deviceMinor) = deviceMajorMinor(node.rdev)
            case .socket: return  // tar cannot hold sockets
            }
            try tar.writeHeader(t)
            if t.kind == .file, t.size > 0 {
                // A sparse file's holes are in its map, not in the archive: stream only the data.
                let extents = t.sparseRegions == nil ? node.content : node.content.filter { !$0.isHole }
                var streamer = streamer
                streamer.preloaded = preloaded
                try await streamer.stream(extents) { bytes in try tar.writeContents(bytes); try await drain() }
            }
            try tar.finishEntry()
            try await drain()
        }

        if entry.node != nil { try await add(entry) }
        if entry.isDirectory {
            // From a remote store, each folder's small files come in batches (a few requests, not one per file).
            try await browser.walk(entry, preloadingSmallFiles: true) { child, preloaded in try await add(child, preloaded: preloaded); return true }
        }
        try tar.finish()
        try gzip?.finish()
        try await drain()
    }

    /// The data regions of a file with holes (adjacent data extents merged), or nil when it has none.
    static func dataRegions(_ node: Node) -> [TarEntry.SparseRegion]? {
        guard node.content.contains(where: \.isHole) else { return nil }
        var regions: [TarEntry.SparseRegion] = []
        var offset: Int64 = 0
        for e in node.content {
            if !e.isHole {
                if let last = regions.last, last.offset + last.length == offset {
                    regions[regions.count - 1].length += Int64(e.length)
                } else {
                    regions.append(.init(offset: offset, length: Int64(e.length)))
                }
            }
            offset += Int64(e.length)
        }
        return regions
    }
}
