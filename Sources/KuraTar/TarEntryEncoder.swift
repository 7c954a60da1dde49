/// Turns a ``TarEntry`` into header blocks: an optional pax extended header (`x`) followed
/// by one POSIX ustar block.
///
/// The pax header is written only when the ustar block cannot hold the entry exactly: a path
/// that does not fit the 100/155-byte name/prefix split or is not plain ASCII, a link target
/// over 100 bytes or not plain ASCII, a size of 8 GiB or more, a uid/gid above `0o7777777`, a
/// modification time with nanoseconds or outside `0...0o77777777777`, a user/group name of 32
/// bytes or more or not plain ASCII, device numbers above `0o7777777`, and extended attributes.
enum TarEntryEncoder {
    /// Largest value of the 8-byte fields (mode, uid, gid, device numbers).
    static let maxSmall = TarHeader.maxOctal(width: 8)
    /// Largest value of the 12-byte fields (size, mtime).
    static let maxLarge = TarHeader.maxOctal(width: 12)

    /// The header bytes for `entry`, a multiple of 512 bytes long.
    static func encode(_ entry: TarEntry) throws -> [UInt8] {
        try validate(entry)
        var pax = PaxExtendedHeader()
        var binary = false

        var path = entry.path
        var sparseMap: [UInt8] = []
        var storedSize = UInt64(entry.size)
        if let regions = entry.sparseRegions {
            // PAX sparse format 1.0: the real name and size go into GNU.sparse.* records, the ustar
            // name is a stand-in (what a reader without sparse support extracts), and the data starts
            // with the map in decimal lines, padded to a block. A file that ends in a hole ends its map
            // with an empty region at the real size, so that readers extend it to the full size.
            var map = regions
            if map.last.map({ $0.offset + $0.length }) != entry.size { map.append(.init(offset: entry.size, length: 0)) }
            var text = "\(map.count)\n"
            for r in map { text += "\(r.offset)\n\(r.length)\n" }
            sparseMap = Array(text.utf8)
            sparseMap += [UInt8](repeating: 0, count: padding(for: Int64(sparseMap.count)))
            storedSize = UInt64(sparseMap.count) + UInt64(regions.reduce(0) { $0 + $1.length })
            pax.append("GNU.sparse.major", "1")
            pax.append("GNU.sparse.minor", "0")
            pax.append("GNU.sparse.name", path)
            pax.append("GNU.sparse.realsize", String(entry.size))
            binary = binary || !isUTF8(path)
            let slash = path.lastIndex(of: UInt8(ascii: "/"))
            let directory = slash.map { Array(path[...$0]) } ?? []
            let base = slash.map { Array(path[($0 + 1)...]) } ?? path
            path = directory + Array("GNUSparseFile.0/".utf8) + base
        }
        if entry.kind == .directory {
            while path.count > 1, path.last == UInt8(ascii: "/") { path.removeLast() }
            if path.last != UInt8(ascii: "/") { path.append(UInt8(ascii: "/")) }
        }
        let split = isPlainASCII(path) ? ustarSplit(path) : nil
        if split == nil {
            pax.append("path", path)
            binary = binary || !isUTF8(path)
        }

        let linkTarget = entry.linkTarget
        if linkTarget.count > TarHeader.linkname.count || !isPlainASCII(linkTarget) {
            pax.append("linkpath", linkTarget)
            binary = binary || !isUTF8(linkTarget)
        }

        let size = storedSize
        if size > maxLarge { pax.append("size", String(size)) }
        if UInt64(entry.uid) > maxSmall { pax.append("uid", String(entry.uid)) }
        if UInt64(entry.gid) > maxSmall { pax.append("gid", String(entry.gid)) }
        if !fitsNameField(entry.userName) { pax.append("uname", entry.userName) }
        if !fitsNameField(entry.groupName) { pax.append("gname", entry.groupName) }

        let seconds = entry.modificationSeconds
        if entry.modificationNanoseconds != 0 || seconds < 0 || UInt64(seconds) > maxLarge {
            pax.append("mtime", PaxExtendedHeader.formatTime(seconds: seconds, nanoseconds: entry.modificationNanoseconds))
        }
        if UInt64(entry.deviceMajor) > maxSmall { pax.append("SCHILY.devmajor", String(entry.deviceMajor)) }
        if UInt64(entry.deviceMinor) > maxSmall { pax.append("SCHILY.devminor", String(entry.deviceMinor)) }
        for attribute in entry.extendedAttributes {
            pax.append(PaxExtendedHeader.xattrKeyword(name: attribute.name), attribute.value)
        }
        // GNU tar's --acls reads ACLs only from their text records: write those too.
        for attribute in entry.extendedAttributes {
            if let keyword = PosixACL.textKeyword(forAttribute: attribute.name), let text = PosixACL.text(fromAttribute: attribute.value) {
                pax.append(keyword, text)
            }
        }
        if binary {
            pax.records.insert(.init(keyword: "hdrcharset", value: Array("BINARY".utf8)), at: 0)
        }

        var output: [UInt8] = []
        if !pax.isEmpty {
            let data = pax.encoded()
            output += paxHeaderBlock(for: path, dataSize: data.count, entry: entry)
            output += data
            output += [UInt8](repeating: 0, count: padding(for: Int64(data.count)))
        }

        var block = [UInt8](repeating: 0, count: TarHeader.blockSize)
        if let split {
            TarHeader.writeBytes(split.name, into: &block, TarHeader.name)
            TarHeader.writeBytes(split.prefix, into: &block, TarHeader.prefix)
        } else {
            TarHeader.writeBytes(path, into: &block, TarHeader.name)
        }
        TarHeader.writeOctal(UInt64(entry.mode), into: &block, TarHeader.mode)
        TarHeader.writeOctal(clamp(UInt64(entry.uid), maxSmall), into: &block, TarHeader.uid)
        TarHeader.writeOctal(clamp(UInt64(entry.gid), maxSmall), into: &block, TarHeader.gid)
        TarHeader.writeOctal(clamp(size, maxLarge), into: &block, TarHeader.size)
        TarHeader.writeOctal(seconds < 0 ? 0 : min(UInt64(seconds), maxLarge), into: &block, TarHeader.mtime)
        block[TarHeader.typeflag] = typeflag(for: entry.kind)
        TarHeader.writeBytes(linkTarget, into: &block, TarHeader.linkname)
        TarHeader.writeBytes(TarHeader.posixMagic, into: &block, TarHeader.magic.lowerBound..<TarHeader.version.upperBound)
        TarHeader.writeBytes(entry.userName.utf8.prefix(31), into: &block, TarHeader.uname)
        TarHeader.writeBytes(entry.groupName.utf8.prefix(31), into: &block, TarHeader.gname)
        TarHeader.writeOctal(clamp(UInt64(entry.deviceMajor), maxSmall), into: &block, TarHeader.devmajor)
        TarHeader.writeOctal(clamp(UInt64(entry.deviceMinor), maxSmall), into: &block, TarHeader.devminor)
        TarHeader.seal(&block)
        output += block
        output += sparseMap
        return output
    }

    /// The number of content bytes a writer expects for `entry`: its size, or for a sparse file the
    /// bytes of its data regions.
    static func contentLength(_ entry: TarEntry) -> Int64 {
        entry.sparseRegions.map { $0.reduce(0) { $0 + $1.length } } ?? entry.size
    }

    /// Zero bytes needed after `size` bytes of data to reach a block boundary.
    static func padding(for size: Int64) -> Int {
        let remainder = Int(size % Int64(TarHeader.blockSize))
        return remainder == 0 ? 0 : TarHeader.blockSize - remainder
    }

    static func typeflag(for kind: TarEntry.Kind) -> UInt8 {
        switch kind {
        case .file: return TarHeader.Typeflag.regular
        case .hardLink: return TarHeader.Typeflag.hardLink
        case .symlink: return TarHeader.Typeflag.symlink
        case .characterDevice: return TarHeader.Typeflag.characterDevice
        case .blockDevice: return TarHeader.Typeflag.blockDevice
        case .directory: return TarHeader.Typeflag.directory
        case .fifo: return TarHeader.Typeflag.fifo
        }
    }

    // MARK: Validation

    private static func validate(_ entry: TarEntry) throws {
        func invalid(_ detail: String) -> TarError {
            TarError(.invalidEntry, "entry '\(entry.displayPath)': \(detail)")
        }
        guard !entry.path.isEmpty else { throw invalid("empty path") }
        guard !entry.path.contains(0) else { throw invalid("path contains a NUL byte") }
        guard !entry.linkTarget.contains(0) else { throw invalid("link target contains a NUL byte") }
        guard entry.mode <= 0o7777 else { throw invalid("mode \(String(entry.mode, radix: 8)) exceeds 07777") }
        guard entry.modificationNanoseconds < 1_000_000_000 else { throw invalid("nanoseconds out of range") }
        guard !entry.userName.utf8.contains(0), !entry.groupName.utf8.contains(0) else {
            throw invalid("user or group name contains a NUL byte")
        }
        guard entry.size >= 0 else { throw invalid("negative size") }
        if entry.kind != .file, entry.size != 0 {
            throw invalid("only files carry contents, but size is \(entry.size)")
        }
        switch entry.kind {
        case .symlink, .hardLink:
            guard !entry.linkTarget.isEmpty else { throw invalid("link without a target") }
        default:
            guard entry.linkTarget.isEmpty else { throw invalid("link target on a non-link") }
        }
        if entry.kind != .characterDevice, entry.kind != .blockDevice,
           entry.deviceMajor != 0 || entry.deviceMinor != 0 {
            throw invalid("device numbers on a non-device")
        }
        if let regions = entry.sparseRegions {
            guard entry.kind == .file else { throw invalid("only files can be sparse") }
            var end: Int64 = 0
            for r in regions {
                guard r.offset >= end, r.length >= 0, r.offset <= entry.size - r.length else {
                    throw invalid("sparse regions must be in order, not overlap and lie within the size")
                }
                end = r.offset + r.length
            }
        }
        for attribute in entry.extendedAttributes {
            guard !attribute.name.isEmpty, !attribute.name.utf8.contains(0) else {
                throw invalid("extended attribute with an empty name or a NUL byte in it")
            }
        }
    }

    // MARK: Fields

    /// Splits a plain-ASCII path into ustar `prefix` and `name`, or nil if it cannot be split.
    static func ustarSplit(_ path: [UInt8]) -> (prefix: ArraySlice<UInt8>, name: ArraySlice<UInt8>)? {
        if path.count <= TarHeader.name.count { return (path[0..<0], path[...]) }
        // Cut at the first slash that leaves a name of at most 100 bytes (the longest name).
        let earliest = path.count - 1 - TarHeader.name.count
        for slash in max(earliest, 1)..<path.count - 1 where path[slash] == UInt8(ascii: "/") {
            guard slash <= TarHeader.prefix.count else { return nil }
            return (path[0..<slash], path[(slash + 1)...])
        }
        return nil
    }

    /// Whether a user or group name fits its 32-byte field with a terminating NUL and is ASCII.
    private static func fitsNameField(_ name: String) -> Bool {
        name.utf8.count < TarHeader.uname.count && name.utf8.allSatisfy { $0 < 0x80 }
    }

    /// Bytes 0x01...0x7F only.
    static func isPlainASCII(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 < 0x80 }
    }

    static func isUTF8(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    private static func clamp(_ value: UInt64, _ limit: UInt64) -> UInt64 {
        value > limit ? 0 : value
    }

    /// The `x` block announcing `dataSize` bytes of pax records, named `PaxHeaders/<basename>`.
    private static func paxHeaderBlock(for path: [UInt8], dataSize: Int, entry: TarEntry) -> [UInt8] {
        var trimmed = path[...]
        while trimmed.count > 1, trimmed.last == UInt8(ascii: "/") { trimmed = trimmed.dropLast() }
        let basename = trimmed.split(separator: UInt8(ascii: "/")).last ?? trimmed
        // The name is informational; keep it printable ASCII so it is harmless when a
        // reader without pax support extracts it as a file.
        var name = Array("PaxHeaders/".utf8)
        name += basename.map { $0 > 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "_") }
        if name.count == "PaxHeaders/".utf8.count { name += Array("entry".utf8) }

        var block = [UInt8](repeating: 0, count: TarHeader.blockSize)
        TarHeader.writeBytes(name.prefix(TarHeader.name.count), into: &block, TarHeader.name)
        TarHeader.writeOctal(0o644, into: &block, TarHeader.mode)
        TarHeader.writeOctal(clamp(UInt64(entry.uid), maxSmall), into: &block, TarHeader.uid)
        TarHeader.writeOctal(clamp(UInt64(entry.gid), maxSmall), into: &block, TarHeader.gid)
        TarHeader.writeOctal(UInt64(dataSize), into: &block, TarHeader.size)
        let seconds = entry.modificationSeconds
        TarHeader.writeOctal(seconds < 0 ? 0 : min(UInt64(seconds), maxLarge), into: &block, TarHeader.mtime)
        block[TarHeader.typeflag] = TarHeader.Typeflag.paxLocal
        TarHeader.writeBytes(TarHeader.posixMagic, into: &block, TarHeader.magic.lowerBound..<TarHeader.version.upperBound)
        TarHeader.writeOctal(0, into: &block, TarHeader.devmajor)
        TarHeader.writeOctal(0, into: &block, TarHeader.devminor)
        TarHeader.seal(&block)
        return block
    }
}
