import Foundation
import KuraCore
import KuraOperations
import KuraRepository

/// What the dashboard reads, computed by the libraries (``Runner/overview(repository:openError:)``,
/// ``Repository``) and kept for ``DashboardOptions/refreshSeconds`` so that a page, its JSON and a
/// Prometheus scrape in the same moment read the repository once. The repository is opened once (the
/// key derivation is deliberately slow) and opened again after a failure; its index is re-read when the
/// set of snapshots changes, so snapshots saved by a later `kura run` can be browsed.
public actor DashboardData {
    public let runner: Runner
    let refreshSeconds: Double
    private var repository: Repository?
    private var openError: String?
    private var openedAt: Date?
    private var cachedOverview: (value: Overview, at: Date)?
    private var cachedSnapshots: (value: [Snapshot], at: Date)?
    /// The snapshot ids seen at the last listing (nil: none yet).
    private var knownSnapshotIDs: Set<BlobID>?

    public init(runner: Runner, refreshSeconds: Double = 30) {
        self.runner = runner
        self.refreshSeconds = refreshSeconds
    }

    /// A data source over a repository the caller opened (tests, or a caller that already has one).
    public init(runner: Runner, repository: Repository, refreshSeconds: Double = 30) {
        self.runner = runner
        self.refreshSeconds = refreshSeconds
        self.repository = repository
        self.openedAt = Date()
    }

    /// The open repository, opening it if needed (at most once per refresh interval after a failure).
    public func openRepository() async throws -> Repository {
        if let repository { return repository }
        if let openError, let openedAt, Date().timeIntervalSince(openedAt) < refreshSeconds {
            throw KuraError(.noRepository, openError, hint: "kura serve tries again every \(Int(refreshSeconds)) s")
        }
        openedAt = Date()
        do {
            let r = try await Resources.openRepository(runner.config, runner.environment)
            repository = r
            openError = nil
            return r
        } catch {
            openError = "\(error)"
            throw error
        }
    }

    /// The overview, at most ``DashboardOptions/refreshSeconds`` old.
    public func overview() async -> Overview {
        if let c = cachedOverview, Date().timeIntervalSince(c.at) < refreshSeconds { return c.value }
        let listed = try? await snapshots()  // re-reads the index first if snapshots came or went (stored bytes)
        let repo = try? await openRepository()
        let o = await runner.overview(repository: repo, openError: repo == nil ? openError : nil, snapshots: listed)
        cachedOverview = (o, Date())
        return o
    }

    /// Every snapshot, oldest first, at most ``DashboardOptions/refreshSeconds`` old. Snapshots are
    /// immutable, so they are read again only when the listing of ids changed; then the index is read
    /// again first (a snapshot is saved after its index).
    public func snapshots() async throws -> [Snapshot] {
        if let c = cachedSnapshots, Date().timeIntervalSince(c.at) < refreshSeconds { return c.value }
        let repo = try await openRepository()
        let ids = Set(try await repo.snapshotIDs())
        if let known = knownSnapshotIDs, let c = cachedSnapshots, ids == known {
            cachedSnapshots = (c.value, Date())
            return c.value
        }
        if let known = knownSnapshotIDs, ids != known { try await repo.refreshIndex() }
        // Only those listed before the index was read: a snapshot saved in between waits for the next look.
        let list = try await repo.listSnapshots().filter { $0.id.map(ids.contains) ?? false }
        knownSnapshotIDs = ids
        cachedSnapshots = (list, Date())
        return list
    }

    /// The snapshots of one configured source on this host, oldest first.
    public func snapshots(ofSource name: String) async throws -> [Snapshot] {
        guard let source = runner.config.source(named: name) else {
            throw KuraError(.notFound, "there is no source named \"\(name)\"", hint: "sources: \(runner.config.sources.map(\.name).joined(separator: ", "))")
        }
        let host = Resources.host(runner.config)
        return try await snapshots().filter { $0.host == host && $0.tags.contains(source.tag) }
    }

    /// One snapshot by full id, unique prefix (at least 4 hex digits) or `latest` (the repository's rule).
    public func snapshot(_ reference: String) async throws -> Snapshot {
        let list = try await snapshots()
        if reference == "latest" {  // the newest of every host, as the repository's rule says; from the cache
            guard let newest = list.last else { throw KuraError(.notFound, "the repository has no snapshots") }
            return newest
        }
        let id = try await openRepository().resolveSnapshotID(reference)
        if let s = list.first(where: { $0.id == id }) { return s }
        return try await openRepository().loadSnapshot(id)
    }
}
