import KuraRepository

/// One difference between two snapshots.
public struct Difference: Sendable, Equatable {
    public enum Kind: String, Sendable { case added = "+", removed = "-", modified = "M", metadata = "U", typeChanged = "T" }
    public var kind: Kind
    public var path: [UInt8]
    public var displayPath: String { PathBytes.display(path) }
}

/// `kura diff`: compares two snapshots tree by tree; identical subtrees (same id) are skipped without
/// loading them, so the cost follows the size of the change.
public struct Differ: Sendable {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    public func diff(_ a: BlobID, _ b: BlobID, path: [UInt8] = [47], into out: inout [Difference]) async throws {
        if a == b { return }
        let ta = try await repository.loadTree(a), tb = try await repository.loadTree(b)
        var i = 0, j = 0
        func child(_ n: Node) -> [UInt8] { path == [47] ? [47] + n.name : path + [47] + n.name }
        func contents(_ n: Node, _ kind: Difference.Kind) async throws {
            if n.type == .directory, let sub = n.subtree {
                try await SnapshotBrowser.walkTree(repository, sub, path: child(n)) { p in out.append(Difference(kind: kind, path: p)) }
            }
        }
        func all(_ n: Node, _ kind: Difference.Kind) async throws {
            out.append(Difference(kind: kind, path: child(n)))
            try await contents(n, kind)
        }
        while i < ta.nodes.count || j < tb.nodes.count {
            if j >= tb.nodes.count || (i < ta.nodes.count && ta.nodes[i].name.lexicographicallyPrecedes(tb.nodes[j].name)) {
                try await all(ta.nodes[i], .removed); i += 1
            } else if i >= ta.nodes.count || tb.nodes[j].name.lexicographicallyPrecedes(ta.nodes[i].name) {
                try await all(tb.nodes[j], .added); j += 1
            } else {
                let x = ta.nodes[i], y = tb.nodes[j]
                i += 1; j += 1
                if x.type != y.type {
                    // A folder that became something else lost its contents; a folder that replaced
                    // something brought new contents. List them, as restic does.
                    out.append(Difference(kind: .typeChanged, path: child(x)))
                    try await contents(x, .removed)
                    try await contents(y, .added)
                    continue
                }
                if x.type == .directory {
                    if Differ.metadataDiffers(x, y) { out.append(Difference(kind: .metadata, path: child(x))) }
                    if let sa = x.subtree, let sb = y.subtree { try await diff(sa, sb, path: child(x), into: &out) }
                } else if x.content != y.content || x.linkTarget != y.linkTarget || x.size != y.size || x.rdev != y.rdev {
                    out.append(Difference(kind: .modified, path: child(x)))
                } else if Differ.metadataDiffers(x, y) {
                    out.append(Difference(kind: .metadata, path: child(x)))
                }
            }
        }
    }

    static func metadataDiffers(_ x: Node, _ y: Node) -> Bool {
        x.mode != y.mode || x.uid != y.uid || x.gid != y.gid || x.mtime != y.mtime || x.xattrs != y.xattrs
    }
}

extension SnapshotBrowser {
    /// Calls `visit` with the path of every entry below a tree.
    static func walkTree(_ repository: Repository, _ tree: BlobID, path: [UInt8], visit: ([UInt8]) -> Void) async throws {
        for n in try await repository.loadTree(tree).nodes {
            let p = path == [47] ? [47] + n.name : path + [47] + n.name
            visit(p)
            if n.type == .directory, let sub = n.subtree { try await walkTree(repository, sub, path: p, visit: visit) }
        }
    }
}
