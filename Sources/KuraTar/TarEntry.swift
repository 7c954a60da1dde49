/// One member of a tar archive: its path, kind and metadata.
///
/// Paths and link targets are raw bytes, exactly as they are (or were) on disk, so names
/// that are not valid UTF-8 survive a round trip. A path is relative, has no leading `/`,
/// and a directory's path has no trailing `/` (``TarWriter`` adds it; ``TarReader`` strips it).
///
/// ``TarWriter`` checks that the fields agree with ``kind``: only files carry a ``size``,
/// only links carry a ``linkTarget``, only device nodes carry device numbers.
public struct TarEntry: Sendable, Equatable {
    /// The kind of filesystem object an entry describes.
    public enum Kind: Sendable, Equatable {
        /// A regular file; its contents follow the header.
        case file
        /// A directory.
        case directory
        /// A symbolic link to ``TarEntry/linkTarget``.
        case symlink
        /// A hard link to the earlier archive member named by ``TarEntry/linkTarget``.
        case hardLink
        /// A named pipe.
        case fifo
        /// A character device node.
        case characterDevice
        /// A block device node.
        case blockDevice
    }

    /// One extended attribute (xattr), stored in a pax `SCHILY.xattr.<name>` record.
    public struct ExtendedAttribute: Sendable, Equatable {
        /// The attribute's full name including its namespace, e.g. `user.kura`.
        public var name: String
        /// The attribute's value; any bytes.
        public var value: [UInt8]

        /// Creates an extended attribute.
        public init(name: String, value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    /// One region of a sparse file that holds data; everything between regions is a hole.
    public struct SparseRegion: Sendable, Equatable {
        public var offset: Int64
        public var length: Int64
        public init(offset: Int64, length: Int64) { self.offset = offset; self.length = length }
    }

    /// The member's path as raw bytes: relative, without a leading `/`, directories without a trailing `/`.
    public var path: [UInt8]
    /// What kind of object the entry is.
    public var kind: Kind
    /// Permission bits including setuid, setgid and sticky (`0o7777` at most).
    public var mode: UInt32
    /// Numeric owner.
    public var uid: UInt32
    /// Numeric group.
    public var gid: UInt32
    /// Owner name, or empty when unknown.
    public var userName: String
    /// Group name, or empty when unknown.
    public var groupName: String
    /// Whole seconds of the modification time since the Unix epoch (may be negative).
    public var modificationSeconds: Int64
    /// Nanoseconds added to ``modificationSeconds``; always below 1,000,000,000.
    public var modificationNanoseconds: UInt32
    /// Size of a file's contents in bytes (or of a hard link's, when an archive stores data
    /// for one); 0 for every other kind.
    public var size: Int64
    /// The target of a symlink, or the archive path of a hard link's target, as raw bytes; empty otherwise.
    public var linkTarget: [UInt8]
    /// Major device number of a character or block device; 0 otherwise.
    public var deviceMajor: UInt32
    /// Minor device number of a character or block device; 0 otherwise.
    public var deviceMinor: UInt32
    /// Extended attributes in archive order.
    public var extendedAttributes: [ExtendedAttribute]
    /// For a sparse file: the regions that hold data, in order, not overlapping, within ``size``.
    /// ``TarWriter`` then writes a PAX sparse file (format 1.0, as GNU tar does: `GNU.sparse.major=1`,
    /// `minor=0`, `name`, `realsize`, the map at the start of the data) and expects only the regions'
    /// bytes, one region after another, as contents. nil: an ordinary file.
    public var sparseRegions: [SparseRegion]? = nil

    /// The modification time as a `(seconds, nanoseconds)` pair; nanoseconds are always
    /// non-negative, so one nanosecond before the epoch is `(-1, 999_999_999)`.
    public var modificationTime: (seconds: Int64, nanoseconds: UInt32) {
        get { (modificationSeconds, modificationNanoseconds) }
        set {
            modificationSeconds = newValue.seconds
            modificationNanoseconds = newValue.nanoseconds
        }
    }

    /// Creates an entry.
    ///
    /// - Parameters:
    ///   - path: Raw path bytes, relative, no trailing `/` needed for directories.
    ///   - kind: The kind of object; defaults to a regular file.
    ///   - mode: Permission bits; `nil` picks `0o755` for directories, `0o777` for symlinks
    ///     and `0o644` for everything else.
    ///   - uid: Numeric owner.
    ///   - gid: Numeric group.
    ///   - userName: Owner name, or empty.
    ///   - groupName: Group name, or empty.
    ///   - modificationTime: Seconds since the epoch and nanoseconds below 1,000,000,000.
    ///   - size: Content size of a file; must be 0 for other kinds when writing.
    ///   - linkTarget: Target of a symlink or hard link; empty for other kinds.
    ///   - deviceMajor: Major number of a device node.
    ///   - deviceMinor: Minor number of a device node.
    ///   - extendedAttributes: Extended attributes, written in this order.
    public init(
        path: [UInt8],
        kind: Kind = .file,
        mode: UInt32? = nil,
        uid: UInt32 = 0,
        gid: UInt32 = 0,
        userName: String = "",
        groupName: String = "",
        modificationTime: (seconds: Int64, nanoseconds: UInt32) = (0, 0),
        size: Int64 = 0,
        linkTarget: [UInt8] = [],
        deviceMajor: UInt32 = 0,
        deviceMinor: UInt32 = 0,
        extendedAttributes: [ExtendedAttribute] = []
    ) {
        self.path = path
        self.kind = kind
        self.mode = mode ?? TarEntry.defaultMode(for: kind)
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.modificationSeconds = modificationTime.seconds
        self.modificationNanoseconds = modificationTime.nanoseconds
        self.size = size
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.extendedAttributes = extendedAttributes
    }

    /// The permission bits an entry of `kind` gets when none are given.
    static func defaultMode(for kind: Kind) -> UInt32 {
        switch kind {
        case .directory: return 0o755
        case .symlink: return 0o777
        default: return 0o644
        }
    }

    /// The path as text for messages; bytes that are not UTF-8 become U+FFFD.
    var displayPath: String { String(decoding: path, as: UTF8.self) }
}
