import Foundation
import KuraRepository

/// A local folder where `wal-push` keeps WAL files durably while the repository is slow or unreachable,
/// so that archiving (and the database) does not stall. Files are named `<16-digit sequence>-<WAL name>`
/// and drained into the repository in sequence order. The spool never drops a file: when it is full
/// (`maxBytes`), a push that cannot reach the repository fails, and PostgreSQL keeps the segment in
/// pg_wal and retries.
public struct WALSpool: Sendable {
    public var folder: String
    public var maxBytes: UInt64

    public init(folder: String, maxBytes: UInt64) {
        self.folder = folder
        self.maxBytes = maxBytes
    }

    public struct Entry: Sendable {
        public var file: String
        public var name: String
        public var sequence: UInt64
        public var size: UInt64
    }

    /// The spooled files, oldest first. Temporary files of an interrupted write are ignored (and removed).
    public func entries() throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: folder) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw KuraError(.io, "cannot read the WAL spool \(folder): \(error.localizedDescription)")
        }
        var out: [Entry] = []
        for f in names {
            if f.hasPrefix(".tmp-") { unlink(folder + "/" + f); continue }
            let parts = f.split(separator: "-", maxSplits: 1)
            guard parts.count == 2, let seq = UInt64(parts[0]), Repository.isWALFileName(String(parts[1])) else { continue }
            var st = stat()
            guard stat(folder + "/" + f, &st) == 0 else { continue }
            out.append(Entry(file: folder + "/" + f, name: String(parts[1]), sequence: seq, size: UInt64(st.st_size)))
        }
        return out.sorted { $0.sequence < $1.sequence }
    }

    /// Bytes held now.
    public func usedBytes() throws -> UInt64 { try entries().reduce(0) { $0 + $1.size } }

    /// The spooled copy of `name`, if any.
    public func find(_ name: String) throws -> Entry? { try entries().last { $0.name == name } }

    /// Writes `contents` durably (temporary file, fsync, rename, fsync of the folder). Refuses, with a
    /// loud error, when the spool would exceed its limit.
    public func add(name: String, contents: [UInt8]) throws {
        try makeFolder()
        let existing = try entries()
        if let same = existing.last(where: { $0.name == name }) {
            if (try? Data(contentsOf: URL(fileURLWithPath: same.file))).map({ Array($0) == contents }) == true { return }
            guard name.hasSuffix(".partial") else {
                throw KuraError(.alreadyExists, "the WAL spool \(folder) already holds \(name) with different contents",
                                hint: "two servers may share this spool; nothing was overwritten and PostgreSQL keeps the segment")
            }
        }
        let used = existing.reduce(UInt64(0)) { $0 + $1.size }
        guard used + UInt64(contents.count) <= maxBytes else {
            throw KuraError(.noSpace, "WAL SPOOL FULL: \(folder) holds \(used) bytes of WAL not yet in the repository (limit \(maxBytes)); \(name) was NOT archived",
                            hint: "make the repository reachable (or raise wal-spool-max); PostgreSQL keeps \(name) in pg_wal and retries, so nothing is lost yet — but pg_wal grows until archiving works again")
        }
        let sequence = (existing.map(\.sequence).max() ?? 0) + 1
        let final = folder + "/" + String(format: "%016llu", sequence) + "-" + name
        try DurableFile.write(contents, to: final, temporaryPrefix: ".tmp-")
    }

    /// Removes a drained file (after the repository holds it durably).
    public func remove(_ entry: Entry) {
        unlink(entry.file)
        DurableFile.syncFolder(folder)
    }

    private func makeFolder() throws {
        if FileManager.default.fileExists(atPath: folder) { return }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw KuraError(.io, "cannot create the WAL spool \(folder): \(error.localizedDescription)", hint: "create it, owned by the server's user (postgres), mode 0700")
        }
    }
}

/// Whole-file writes that are complete or absent after a crash: temporary file in the same folder,
/// fsync, rename, fsync of the folder.
enum DurableFile {
    static func write(_ contents: [UInt8], to path: String, temporaryPrefix: String = ".kura-tmp-", mode: mode_t = 0o600) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let temp = folder + "/" + temporaryPrefix + UUID().uuidString.prefix(8) + "-" + (path as NSString).lastPathComponent
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure("create", temp) }
        var ok = false
        defer { if !ok { unlink(temp) } }
        var done = 0
        try contents.withUnsafeBytes { raw in
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; let e = failure("write", temp); close(fd); throw e }
                done += n
            }
        }
        guard fsync(fd) == 0 else { let e = failure("fsync", temp); close(fd); throw e }
        guard close(fd) == 0 else { throw failure("close", temp) }
        guard rename(temp, path) == 0 else { throw failure("rename into place", path) }
        ok = true
        syncFolder(folder)
    }

    static func syncFolder(_ folder: String) {
        let d = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { fsync(d); close(d) }
    }

    static func failure(_ what: String, _ path: String) -> KuraError {
        KuraError(errno == ENOSPC ? .noSpace : (errno == EACCES || errno == EPERM ? .permissionDenied : .io),
                  "cannot \(what) \(path): \(String(cString: strerror(errno)))")
    }
}
