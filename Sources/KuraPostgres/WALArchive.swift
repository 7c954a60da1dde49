import Foundation
import KuraRepository

/// What one `wal-push` did.
public struct WALPushResult: Sendable, Codable {
    public var name: String
    /// `stored`, `alreadyPresent`, `replacedPartial`, or `spooled` (kept in the local spool; the
    /// repository could not be written).
    public var outcome: String
    public var bytes: Int
    /// Spooled files drained into the repository first.
    public var drained: [String] = []
    /// Files still waiting in the spool afterwards.
    public var spoolFiles = 0
    public var spoolBytes: UInt64 = 0
    /// Why the repository was not used, when spooled.
    public var repositoryError: String?
    public var seconds: Double = 0
}

/// `archive_command` and `restore_command`: pushes WAL files into the repository (through the spool
/// when one is configured) and fetches them back. The repository is opened lazily through `open`, so an
/// unreachable repository is an error the spool can absorb.
public struct WALArchive: Sendable {
    public var open: @Sendable () async throws -> Repository
    public var spool: WALSpool?
    /// Where loud warnings go (spool in use, spool full).
    public var warn: @Sendable (String) -> Void

    public init(spool: WALSpool? = nil, warn: @escaping @Sendable (String) -> Void = { _ in }, open: @escaping @Sendable () async throws -> Repository) {
        self.open = open
        self.spool = spool
        self.warn = warn
    }

    /// Errors that say the repository (not the segment) is the problem: worth spooling.
    static func spoolable(_ error: KuraError) -> Bool {
        switch error.code {
        case .alreadyExists, .invalidArgument, .corrupt, .wrongPassword, .unsupportedVersion, .fatal: return false
        default: return true
        }
    }

    /// Archives the file at `path` under `name` (default: the file's name). Returns only once it is
    /// durable in the repository, or in the spool when the repository failed; throws otherwise.
    public func push(path: String, name given: String? = nil) async throws -> WALPushResult {
        let started = Date()
        let name = given ?? (path as NSString).lastPathComponent
        guard Repository.isWALFileName(name) else {
            throw KuraError(.invalidArgument, "'\(name)' is not a WAL file name", hint: "archive_command passes the path as %p (and the name as %f)")
        }
        let contents: [UInt8]
        do { contents = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw KuraError(.notFound, "cannot read the WAL file \(path): \(error.localizedDescription)", hint: "archive_command passes the path as %p, relative to the data directory")
        }
        var result = WALPushResult(name: name, outcome: "", bytes: contents.count)
        guard let spool else {
            let repo = try await open()
            result.outcome = try await repo.putWALFile(name: name, contents: contents).rawValue
            result.seconds = Date().timeIntervalSince(started)
            return result
        }
        do {
            let repo = try await open()
            // Older spooled files first: the repository receives WAL in order.
            for entry in try spool.entries() {
                let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: entry.file)))
                _ = try await repo.putWALFile(name: entry.name, contents: bytes)
                spool.remove(entry)
                result.drained.append(entry.name)
            }
            result.outcome = try await repo.putWALFile(name: name, contents: contents).rawValue
        } catch {
            let e = KuraError.from(error)
            guard WALArchive.spoolable(e) else { throw e }
            try spool.add(name: name, contents: contents)
            result.outcome = "spooled"
            result.repositoryError = e.message
            warn("the repository could not take \(name) (\(e.message)); it is kept in the WAL spool \(spool.folder) and will be sent by the next wal-push or `kura wal-push --flush`")
        }
        let left = try spool.entries()
        result.spoolFiles = left.count
        result.spoolBytes = left.reduce(0) { $0 + $1.size }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// Sends every spooled file to the repository, oldest first; returns the names sent.
    public func flush() async throws -> [String] {
        guard let spool else { return [] }
        let entries = try spool.entries()
        guard !entries.isEmpty else { return [] }
        let repo = try await open()
        var sent: [String] = []
        for entry in entries {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: entry.file)))
            _ = try await repo.putWALFile(name: entry.name, contents: bytes)
            spool.remove(entry)
            sent.append(entry.name)
        }
        return sent
    }

    /// Writes archived WAL file `name` to `destination` atomically (temporary file in the same folder,
    /// fsync, rename). Looks in the spool first, then the repository. Throws `.notFound` when neither
    /// holds it — for `restore_command`, the normal end of the archive.
    @discardableResult
    public func fetch(name: String, to destination: String) async throws -> (bytes: Int, fromSpool: Bool) {
        guard Repository.isWALFileName(name) else {
            throw KuraError(.invalidArgument, "'\(name)' is not a WAL file name", hint: "restore_command passes the name as %f and the destination as %p")
        }
        var contents: [UInt8]?
        var fromSpool = false
        if let spool, let entry = try? spool.find(name), let data = try? Data(contentsOf: URL(fileURLWithPath: entry.file)) {
            contents = Array(data); fromSpool = true
        }
        if contents == nil {
            let repo = try await open()
            contents = try await repo.getWALFile(name: name)?.contents
        }
        guard let contents else {
            throw KuraError(.notFound, "the repository has no WAL file \(name)", hint: "normal at the end of the archived WAL: recovery stops there")
        }
        try DurableFile.write(contents, to: destination, mode: 0o600)
        return (contents.count, fromSpool)
    }
}
