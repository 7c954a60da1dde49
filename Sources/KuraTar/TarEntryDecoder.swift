/// Builds a ``TarEntry`` from a ustar/GNU/v7 header block plus the extension data that
/// preceded it (GNU `L`/`K` long names, pax global and local records).
///
/// Precedence, lowest first: the header block, GNU long names, pax global records, pax
/// local records.
enum TarEntryDecoder {
    /// What follows the header block in the archive.
    enum Data {
        /// `count` content bytes to hand to the caller.
        case contents(Int64)
        /// `count` bytes to skip (a GNU dump-directory listing).
        case ignored(Int64)
    }

    /// The decoded entry and what follows its header.
    struct Decoded {
        var entry: TarEntry
        var data: Data
    }

    static func decode(
        block: [UInt8],
        longName: [UInt8]?,
        longLink: [UInt8]?,
        pax: PaxExtendedHeader,
        offset: Int64
    ) throws -> Decoded {
        func malformed(_ detail: String) -> TarError {
            TarError(.malformedHeader, "header at offset \(offset): \(detail)")
        }
        let typeflag = block[TarHeader.typeflag]
        let magic = Array(block[TarHeader.magic.lowerBound..<TarHeader.version.upperBound])
        let isPOSIX = magic.starts(with: TarHeader.posixMagic.prefix(6))

        var path = TarHeader.readBytes(block, TarHeader.name)
        if isPOSIX {
            let prefix = TarHeader.readBytes(block, TarHeader.prefix)
            if !prefix.isEmpty { path = prefix + [UInt8(ascii: "/")] + path }
        }
        var linkTarget = TarHeader.readBytes(block, TarHeader.linkname)
        if let longName { path = longName }
        if let longLink { linkTarget = longLink }

        let kind: TarEntry.Kind
        switch typeflag {
        case TarHeader.Typeflag.regular, TarHeader.Typeflag.contiguous: kind = .file
        case TarHeader.Typeflag.regularOld:
            // Old V7 archives mark directories only by a trailing slash.
            kind = path.last == UInt8(ascii: "/") ? .directory : .file
        case TarHeader.Typeflag.hardLink: kind = .hardLink
        case TarHeader.Typeflag.symlink: kind = .symlink
        case TarHeader.Typeflag.characterDevice: kind = .characterDevice
        case TarHeader.Typeflag.blockDevice: kind = .blockDevice
        case TarHeader.Typeflag.directory, TarHeader.Typeflag.gnuDumpDirectory: kind = .directory
        case TarHeader.Typeflag.fifo: kind = .fifo
        default:
            throw TarError(.unsupported, "header at offset \(offset): unknown entry type \(describe(typeflag))")
        }

        let mode = try TarHeader.readNumber(block, TarHeader.mode, "mode")
        var size = try TarHeader.readNumber(block, TarHeader.size, "size")
        var uid = try TarHeader.readNumber(block, TarHeader.uid, "uid")
        var gid = try TarHeader.readNumber(block, TarHeader.gid, "gid")
        var seconds = try TarHeader.readNumber(block, TarHeader.mtime, "mtime")
        var nanoseconds: UInt32 = 0
        var userName = String(decoding: TarHeader.readBytes(block, TarHeader.uname), as: UTF8.self)
        var groupName = String(decoding: TarHeader.readBytes(block, TarHeader.gname), as: UTF8.self)
        var major: Int64 = 0
        var minor: Int64 = 0
        if kind == .characterDevice || kind == .blockDevice {
            major = try TarHeader.readNumber(block, TarHeader.devmajor, "devmajor")
            minor = try TarHeader.readNumber(block, TarHeader.devminor, "devminor")
        }
        var attributes: [TarEntry.ExtendedAttribute] = []

        for record in pax.records {
            let value = record.value
            func number() throws -> Int64 {
                guard let number = PaxExtendedHeader.parseDecimal(value), number <= UInt64(Int64.max) else {
                    throw malformed("pax record \(record.keyword) is not a number")
                }
                return Int64(number)
            }
            switch record.keyword {
            case "path": path = value
            case "linkpath": linkTarget = value
            case "size": size = try number()
            case "uid": uid = try number()
            case "gid": gid = try number()
            case "uname": userName = String(decoding: value, as: UTF8.self)
            case "gname": groupName = String(decoding: value, as: UTF8.self)
            case "mtime":
                guard let time = PaxExtendedHeader.parseTime(value) else {
                    throw malformed("pax record mtime is not a time")
                }
                (seconds, nanoseconds) = time
            case "SCHILY.devmajor": major = try number()
            case "SCHILY.devminor": minor = try number()
            default:
                if let name = PaxExtendedHeader.xattrName(keyword: record.keyword) {
                    attributes.append(TarEntry.ExtendedAttribute(name: name, value: value))
                } else if record.keyword.hasPrefix(PaxExtendedHeader.gnuSparsePrefix) {
                    throw TarError(.unsupported, "header at offset \(offset): GNU sparse files are not supported")
                }
            }
        }

        guard size >= 0 else { throw malformed("negative size") }
        func unsigned32(_ value: Int64, _ name: String) throws -> UInt32 {
            guard let result = UInt32(exactly: value) else { throw malformed("\(name) \(value) out of range") }
            return result
        }
        if kind == .directory {
            while path.count > 1, path.last == UInt8(ascii: "/") { path.removeLast() }
        }
        let isDevice = kind == .characterDevice || kind == .blockDevice
        let hasContents = kind == .file || kind == .hardLink
        let entry = TarEntry(
            path: path,
            kind: kind,
            mode: UInt32(truncatingIfNeeded: mode) & 0o7777,
            uid: try unsigned32(uid, "uid"),
            gid: try unsigned32(gid, "gid"),
            userName: userName,
            groupName: groupName,
            modificationTime: (seconds, nanoseconds),
            size: hasContents ? size : 0,
            linkTarget: kind == .symlink || kind == .hardLink ? linkTarget : [],
            deviceMajor: isDevice ? try unsigned32(major, "devmajor") : 0,
            deviceMinor: isDevice ? try unsigned32(minor, "devminor") : 0,
            extendedAttributes: attributes
        )
        // Directories, symlinks, devices and fifos have no data even if a writer put a
        // size in the header; GNU dump directories ('D') do, and it is skipped.
        let data: Data
        if hasContents {
            data = .contents(size)
        } else if typeflag == TarHeader.Typeflag.gnuDumpDirectory {
            data = .ignored(size)
        } else {
            data = .ignored(0)
        }
        return Decoded(entry: entry, data: data)
    }

    /// A typeflag for messages: the character if printable, else its hex value.
    static func describe(_ typeflag: UInt8) -> String {
        typeflag > 0x20 && typeflag < 0x7F
            ? "'\(String(UnicodeScalar(typeflag)))'"
            : "0x\(String(typeflag, radix: 16))"
    }
}
