import KuraRepository

/// Which snapshots `kura copy` copies, and how it checks the result.
public struct CopyOptions: Sendable {
    /// Snapshot references in the source (`latest` or an id prefix of at least 4 hex digits); empty: all.
    public var snapshots: [String] = []
    /// Only snapshots that carry every one of these tags.
    public var tags: [String] = []
    /// Only snapshots taken on one of these hosts; empty: any host.
    public var hosts: [String] = []
    /// Only snapshots of this configuration source (the `source:NAME` tag `kura run` gives them).
    public var sourceName: String?
    /// After copying, read every blob of the copied snapshots back from the target and recompute its
    /// SHA-256 (without it: every blob they reference must be in the target's stored index).
    public var verifyData = false
    /// Blobs read from the source and stored in the target at once.
    public var parallelism = 4

    public init() {}

    /// The tag `kura run` gives a configuration source's snapshots.
    public static func tag(forSource name: String) -> String { "source:" + name }
}
