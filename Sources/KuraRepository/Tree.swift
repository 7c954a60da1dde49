/// What a directory entry is.
public enum NodeType: UInt8, Sendable, Codable, CustomStringConvertible {
    case file = 1, directory = 2, symlink = 3, fifo = 4, characterDevice = 5, blockDevice = 6, socket = 7

    public var description: String {
        switch self {
        case .file: "file"
        case .directory: "dir"
        case .symlink: "symlink"
        case .fifo: "fifo"
        case .characterDevice: "chardev"
        case .blockDevice: "blockdev"
        case .socket: "socket"
        }
    }
}

/// A point in time with nanoseconds, as `struct timespec`.
public struct Timespec: Hashable, Sendable, Comparable {
    public var seconds: Int64
    public var nanoseconds: UInt32
    public init(seconds: Int64, nanoseconds: UInt32) { self.seconds = seconds; self.nanoseconds = nanoseconds }
    public static func < (a: Timespec, b: Timespec) -> Bool { (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds) }
}

/// One extended attribute (name and value as raw bytes).
public struct ExtendedAttribute: Hashable, Sendable {
    public var name: [UInt8]
    public var value: [UInt8]
    public init(name: [UInt8], value: [UInt8]) { self.name = name; self.value = value }
}

/// A piece of a file's content: a chunk stored in the repository, or a hole (a run of zeros that was
/// not stored, restored as a hole in a sparse file).
public struct Extent: Hashable, Sendable {
    /// The chunk id, or nil for a hole.
    public var id: BlobID?
    public var length: UInt64
    public init(chunk id: BlobID, length: Int) { self.id = id; self.length = UInt64(length) }
    public init(holeOf length: UInt64) { self.id = nil; self.length = length }
    public var isHole: Bool { id == nil }
}

/// One entry of a directory: its metadata, and its content (file extents or a subtree id).
public struct Node: Hashable, Sendable {
    /// The entry's name as raw bytes (names need not be valid UTF-8).
    public var name: [UInt8]
    public var type: NodeType
    /// Permission bits, including setuid, setgid and sticky (07777).
    public var mode: UInt32 = 0
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var user: String = ""
    public var group: String = ""
    public var mtime = Timespec(seconds: 0, nanoseconds: 0)
    public var ctime = Timespec(seconds: 0, nanoseconds: 0)
    public var inode: UInt64 = 0
    public var device: UInt64 = 0
    public var links: UInt32 = 1
    /// Logical size in bytes (files: content length; symlinks: target length).
    public var size: UInt64 = 0
    /// Device number of a character or block device node.
    public var rdev: UInt64 = 0
    /// Target of a symlink (raw bytes).
    public var linkTarget: [UInt8] = []
    public var xattrs: [ExtendedAttribute] = []
    /// A file's content, in order.
    public var content: [Extent] = []
    /// A directory's tree blob.
    public var subtree: BlobID?

    public init(name: [UInt8], type: NodeType) { self.name = name; self.type = type }

    /// Whether `name` is one path component: not empty, not `.` or `..`, no `/` and no NUL. The only
    /// names a tree may hold (checked when trees are written and when they are read).
    public static func isValidName(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name != [46] && name != [46, 46] && !name.contains(47) && !name.contains(0)
    }

    /// The name for display: UTF-8 where valid, otherwise with invalid bytes as `\xNN`.
    public var displayName: String { PathBytes.display(name) }
}

/// A directory: its entries sorted by name bytes. Stored as a tree blob (binary, see docs/design.md).
public struct Tree: Hashable, Sendable {
    public var nodes: [Node]
    public init(nodes: [Node]) { self.nodes = nodes.sorted { $0.name.lexicographicallyPrecedes($1.name) } }

    /// The entry called `name`, by binary search.
    public func node(named name: [UInt8]) -> Node? {
        var lo = 0, hi = nodes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if nodes[mid].name == name { return nodes[mid] }
            if nodes[mid].name.lexicographicallyPrecedes(name) { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    static let magic: [UInt8] = Array("KTR1".utf8)

    /// The tree blob's plaintext.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 64 + nodes.count * 128)
        w.raw(Tree.magic)
        w.u32(UInt32(nodes.count))
        for n in nodes {
            w.data(n.name)
            w.u8(n.type.rawValue)
            w.u32(n.mode); w.u32(n.uid); w.u32(n.gid)
            w.shortData(Array(n.user.utf8)); w.shortData(Array(n.group.utf8))
            w.i64(n.mtime.seconds); w.u32(n.mtime.nanoseconds)
            w.i64(n.ctime.seconds); w.u32(n.ctime.nanoseconds)
            w.u64(n.inode); w.u64(n.device); w.u32(n.links)
            w.u64(n.size); w.u64(n.rdev)
            w.data(n.linkTarget)
            w.u16(UInt16(n.xattrs.count))
            for x in n.xattrs { w.shortData(x.name); w.data(x.value) }
            switch n.type {
            case .file:
                w.u32(UInt32(n.content.count))
                for e in n.content {
                    if let id = e.id { w.u8(0); w.id(id); w.u32(UInt32(e.length)) } else { w.u8(1); w.u64(e.length) }
                }
            case .directory:
                w.id(n.subtree ?? BlobID(bytes: [UInt8](repeating: 0, count: 32)))
            default: break
            }
        }
        return w.bytes
    }

    /// Decodes a tree blob's plaintext; throws `KuraError(.corrupt)` for malformed input.
    public init(decoding bytes: [UInt8], id: BlobID? = nil) throws {
        var r = BinaryReader(bytes, what: "tree \(id?.short ?? "")")
        guard try r.raw(4) == Tree.magic else { throw KuraError(.corrupt, "tree \(id?.short ?? "") has an unknown format") }
        let count = Int(try r.u32())
        guard count <= bytes.count else { throw KuraError(.corrupt, "tree \(id?.short ?? "") claims \(count) entries") }
        var nodes = [Node](); nodes.reserveCapacity(count)
        for _ in 0..<count {
            let name = try r.data()
            // A repository written by anyone else is untrusted input: a name must stay one component.
            guard Node.isValidName(name) else {
                throw KuraError(.corrupt, "tree \(id?.short ?? "") holds an entry named \(PathBytes.display(name).debugDescription), which is not a single path component (empty, \".\", \"..\", or containing \"/\" or NUL)",
                                hint: "the tree was damaged or written by a hostile tool; nothing is restored from it — `kura repair snapshots` rewrites the snapshots that use it")
            }
            guard let type = NodeType(rawValue: try r.u8()) else { throw KuraError(.corrupt, "tree \(id?.short ?? "") has an unknown node type") }
            var n = Node(name: name, type: type)
            n.mode = try r.u32(); n.uid = try r.u32(); n.gid = try r.u32()
            n.user = String(decoding: try r.shortData(), as: UTF8.self)
            n.group = String(decoding: try r.shortData(), as: UTF8.self)
            n.mtime = Timespec(seconds: try r.i64(), nanoseconds: try r.u32())
            n.ctime = Timespec(seconds: try r.i64(), nanoseconds: try r.u32())
            n.inode = try r.u64(); n.device = try r.u64(); n.links = try r.u32()
            n.size = try r.u64(); n.rdev = try r.u64()
            n.linkTarget = try r.data()
            let xcount = Int(try r.u16())
            for _ in 0..<xcount { n.xattrs.append(ExtendedAttribute(name: try r.shortData(), value: try r.data())) }
            switch type {
            case .file:
                let ecount = Int(try r.u32())
                guard ecount <= bytes.count else { throw KuraError(.corrupt, "tree \(id?.short ?? "") claims \(ecount) extents") }
                n.content.reserveCapacity(ecount)
                for _ in 0..<ecount {
                    switch try r.u8() {
                    case 0: let cid = try r.id(); n.content.append(Extent(chunk: cid, length: Int(try r.u32())))
                    case 1: n.content.append(Extent(holeOf: try r.u64()))
                    default: throw KuraError(.corrupt, "tree \(id?.short ?? "") has an unknown extent kind")
                    }
                }
            case .directory:
                n.subtree = try r.id()
            default: break
            }
            nodes.append(n)
        }
        try r.expectEnd()
        self.nodes = nodes
    }
}

/// Helpers for paths as raw bytes.
public enum PathBytes {
    /// Renders bytes as UTF-8 where valid, escaping invalid bytes as `\xNN` (so output stays one line per
    /// name, newlines are shown as `\n`).
    public static func display(_ bytes: [UInt8]) -> String {
        if let s = String(validating: bytes, as: UTF8.self), !bytes.contains(10), !bytes.contains(13) { return s }
        var out = ""
        var i = 0
        while i < bytes.count {
            // Try to decode one scalar.
            let b = bytes[i]
            let len = b < 0x80 ? 1 : b >> 5 == 0b110 ? 2 : b >> 4 == 0b1110 ? 3 : b >> 3 == 0b11110 ? 4 : 0
            if len > 0, i + len <= bytes.count, let s = String(validating: bytes[i..<i + len], as: UTF8.self) {
                if b == 10 { out += "\\n" } else if b == 13 { out += "\\r" } else if b == 92 { out += "\\\\" } else { out += s }
                i += len
            } else {
                out += "\\x" + Hex.encode([b]); i += 1
            }
        }
        return out
    }

    /// Splits an absolute or relative path into its non-empty components.
    public static func components(_ path: [UInt8]) -> [[UInt8]] {
        path.split(separator: 47, omittingEmptySubsequences: true).map(Array.init)
    }

    /// Joins components into an absolute path.
    public static func join(_ components: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for c in components { out.append(47); out.append(contentsOf: c) }
        return out.isEmpty ? [47] : out
    }
}
