import KuraRepository

/// An entry found by path inside a snapshot. The snapshot's root "/" is a directory without a node.
public struct SnapshotEntry: Sendable {
    /// Absolute path inside the snapshot.
    public var path: [UInt8]
    /// The entry's node; nil for the root.
    public var node: Node?
    /// The tree of a directory (or of the root).
    public var tree: BlobID?

    public var isDirectory: Bool { node == nil || node?.type == .directory }
}

/// Finds paths in a snapshot by loading only the trees along the way.
public struct SnapshotBrowser: Sendable {
    public let repository: Repository
    public let snapshot: Snapshot

    public init(repository: Repository, snapshot: Snapshot) { self.repository = repository; self.snapshot = snapshot }

    /// Splits `SNAPSHOT[:PATH]` into the snapshot reference and the path (default "/").
    public static func split(_ argument: String) -> (snapshot: String, path: [UInt8]) {
        guard let colon = argument.firstIndex(of: ":") else { return (argument, [47]) }
        let path = Array(argument[argument.index(after: colon)...].utf8)
        return (String(argument[..<colon]), path.isEmpty ? [47] : path)
    }

    public var rootTree: BlobID {
        get throws {
            guard let id = snapshot.treeID else { throw KuraError(.corrupt, "snapshot \(snapshot.id?.short ?? "") has a malformed tree id") }
            return id
        }
    }

    /// The entry at `path`, or `KuraError(.notFound)`.
    public func entry(at path: [UInt8]) async throws -> SnapshotEntry {
        var current = SnapshotEntry(path: [47], node: nil, tree: try rootTree)
        var walked: [[UInt8]] = []
        for component in PathBytes.components(path) {
            if component == [46] { continue }
            guard let treeID = current.tree, current.isDirectory else {
                throw KuraError(.notFound, "\(PathBytes.display(current.path)) is not a directory in snapshot \(snapshot.id?.short ?? "")")
            }
            let tree = try await repository.loadTree(treeID)
            guard let node = tree.node(named: component) else {
                let names = tree.nodes.prefix(10).map(\.displayName).joined(separator: ", ")
                throw KuraError(.notFound, "\(PathBytes.display(PathBytes.join(walked + [component]))) is not in snapshot \(snapshot.id?.short ?? "")",
                                hint: tree.nodes.isEmpty ? "the folder is empty" : "\(PathBytes.display(PathBytes.join(walked))) holds: \(names)\(tree.nodes.count > 10 ? ", …" : ""); see `kura ls`")
            }
            walked.append(component)
            current = SnapshotEntry(path: PathBytes.join(walked), node: node, tree: node.subtree)
        }
        return current
    }

    /// Visits every entry below `directory` depth-first in name order (pre-order), with its absolute
    /// path. Return false from `visit` to skip a directory's contents.
    public func walk(_ directory: SnapshotEntry, visit: (SnapshotEntry) async throws -> Bool) async throws {
        try await walk(directory, preloadingSmallFiles: false) { entry, _ in try await visit(entry) }
    }

    /// ``walk(_:visit:)`` for a reader of every file's content (`kura dump`): with
    /// `preloadingSmallFiles`, each folder's small files are read from a remote store in batches
    /// (``FolderPreloader``) and `visit` gets the blobs of the entry's content that loaded (the
    /// others it loads itself); otherwise, and for a local store, it gets none.
    public func walk(_ directory: SnapshotEntry, preloadingSmallFiles: Bool,
                     visit: (SnapshotEntry, _ preloaded: [BlobID: [UInt8]]) async throws -> Bool) async throws {
        let budget = preloadingSmallFiles ? AsyncLimiter(capacity: FolderPreloader.budgetBytes) : nil
        try await walk(directory, budget: budget, visit: visit)
    }

    private func walk(_ directory: SnapshotEntry, budget: AsyncLimiter?,
                      visit: (SnapshotEntry, _ preloaded: [BlobID: [UInt8]]) async throws -> Bool) async throws {
        guard let treeID = directory.tree else { return }
        let tree = try await repository.loadTree(treeID)
        let preloader = budget.flatMap { FolderPreloader(repository: repository, nodes: tree.nodes, budget: $0) }
        for (i, node) in tree.nodes.enumerated() {
            let entry = SnapshotEntry(path: directory.path == [47] ? [47] + node.name : directory.path + [47] + node.name,
                                      node: node, tree: node.subtree)
            let preloaded = await preloader?.batch(forChild: i)?.value ?? [:]
            let descend = try await visit(entry, preloaded)
            preloader?.finished(child: i)
            if descend, node.type == .directory { try await walk(entry, budget: budget, visit: visit) }
        }
    }
}
