import Foundation
import KuraCompression
import KuraCrypto
import KuraStore

/// What the repository knows about one archived PostgreSQL WAL file (a segment, a `.partial` segment,
/// a timeline `.history` file or a `.backup` label), from the small sealed header of its object.
public struct WALFileHeader: Codable, Sendable, Equatable {
    /// The file's name as PostgreSQL gave it (`%f`), e.g. `000000010000000000000003`.
    public var name: String
    /// Its length in bytes (16 MiB for a segment of a default cluster).
    public var size: Int
    /// SHA-256 of its contents (hex): identical pushes are recognised, different ones refused.
    public var sha256: String
    /// When it was archived (RFC 3339).
    public var archived: String
    /// The host that archived it.
    public var host: String
    /// Bytes of the compressed payload.
    public var storedSize: Int
}

/// Whether ``Repository/putWALFile(name:contents:host:)`` stored the file or found it there already.
public enum WALPutOutcome: String, Sendable, Codable {
    /// Written now (durable when the call returns).
    case stored
    /// An identical copy was already in the repository (PostgreSQL retried after a crash): nothing written.
    case alreadyPresent
    /// A `.partial` file replaced an earlier one with different contents.
    case replacedPartial
}

/// WAL objects: one object per file, `wal/<name>`, so that `restore_command` finds a segment with one
/// GET and `archive_command` stores one with one PUT (durable on return: the local store fsyncs file
/// and folder, S3 acknowledges the PUT). The object is
/// `u32 big-endian header length ‖ seal(header JSON) ‖ seal(zstd(contents))`, both sealed with the
/// master key (AES-256-GCM). The header names the file and carries the SHA-256 of its contents, so an
/// object copied to another name, or a payload swapped in from another object, fails the check on read.
/// WAL objects are not packs: `gc` never deletes them; only ``deleteWALFiles(_:)`` (run by `forget`'s
/// WAL retention, under the exclusive lock) does.
extension Repository {
    public static let walPrefix = "wal/"

    /// True for names PostgreSQL gives archived files: a 24-hex-digit segment (optionally `.partial`),
    /// `TTTTTTTT.history`, or `<segment>.<8 hex>.backup`.
    public static func isWALFileName(_ name: String) -> Bool {
        func hex(_ s: Substring, _ n: Int) -> Bool { s.count == n && s.allSatisfy { $0.isHexDigit && !$0.isLowercase } }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return hex(parts[0], 24)
        case 2: return (hex(parts[0], 24) && parts[1] == "partial") || (hex(parts[0], 8) && parts[1] == "history")
        case 3: return hex(parts[0], 24) && hex(parts[1], 8) && parts[2] == "backup"
        default: return false
        }
    }

    static func walKey(_ name: String) throws -> String {
        guard isWALFileName(name) else {
            throw KuraError(.invalidArgument, "'\(name)' is not a WAL file name",
                            hint: "give the name PostgreSQL passes as %f (24 hex digits, or a .history, .partial or .backup file)")
        }
        return walPrefix + name
    }

    /// Stores one WAL file under the shared lock. Returns once the object is durable. Pushing a file
    /// that is already stored with the same contents succeeds without writing; with different contents
    /// it throws `.alreadyExists` (two clusters archiving into one repository, or a damaged segment),
    /// except for a `.partial` file, which is replaced.
    @discardableResult
    public func putWALFile(name: String, contents: [UInt8], host: String = Host.name) async throws -> WALPutOutcome {
        let key = try Repository.walKey(name)
        let sha = Hex.encode(SHA256.hash(contents))
        return try await withLock(.shared) { _ in
            var outcome = WALPutOutcome.stored
            if let existing = try await walHeader(name: name) {
                if existing.sha256 == sha && existing.size == contents.count { return .alreadyPresent }
                guard name.hasSuffix(".partial") else {
                    throw KuraError(.alreadyExists, "the repository already holds WAL file \(name) with different contents (archived \(existing.archived) from \(existing.host), \(existing.size) bytes)",
                                    hint: "two servers may be archiving into one repository, or the segment was damaged; compare the server's pg_wal/\(name) with `kura wal-fetch \(name) FILE`. Nothing was overwritten; PostgreSQL keeps the segment and retries")
                }
                outcome = .replacedPartial
            }
            let payload = compressors.withCompressor { c in contents.withUnsafeBytes { c.compress($0) } } ?? contents
            let header = WALFileHeader(name: name, size: contents.count, sha256: sha, archived: Timestamp.format(Date()),
                                       host: host, storedSize: payload.count)
            let sealedHeader = try seal(try JSON.encode(header, pretty: false))
            let sealedPayload = try seal(payload)
            var object: [UInt8] = []
            object.reserveCapacity(4 + sealedHeader.count + sealedPayload.count)
            let n = UInt32(sealedHeader.count)
            object += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
            object += sealedHeader
            object += sealedPayload
            try await put(key, object)
            return outcome
        }
    }

    /// The header of an archived WAL file (one ranged GET of its first 4 KiB), or nil when there is none.
    public func walHeader(name: String) async throws -> WALFileHeader? {
        let key = try Repository.walKey(name)
        let head: [UInt8]
        do {
            let size = try await store.stat(key).size
            head = try await store.get(key, range: 0..<min(size, 4096))
        } catch let e as ObjectStoreError where e.code == .notFound { return nil } catch {
            throw Repository.storeError(error, doing: "reading \(key)")
        }
        return try decodeWALHeader(head, key: key, name: name)
    }

    private func decodeWALHeader(_ bytes: [UInt8], key: String, name: String) throws -> WALFileHeader {
        guard bytes.count >= 4 else { throw KuraError(.corrupt, "\(key) is truncated") }
        let n = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard n > 0, 4 + n <= bytes.count else { throw KuraError(.corrupt, "\(key) is truncated or damaged (header length \(n))") }
        let plain = try open(Array(bytes[4..<(4 + n)]), what: key)
        let header = try JSON.decode(WALFileHeader.self, from: plain, what: key)
        guard header.name == name else {
            throw KuraError(.corrupt, "\(key) holds WAL file \(header.name), not \(name): the object was renamed or copied",
                            hint: "run `kura check`; restore the object from a copy of the repository")
        }
        return header
    }

    /// The contents of an archived WAL file, checked against its sealed header, or nil when the
    /// repository has no such file.
    public func getWALFile(name: String) async throws -> (header: WALFileHeader, contents: [UInt8])? {
        let key = try Repository.walKey(name)
        let object: [UInt8]
        do { object = try await store.get(key) } catch let e as ObjectStoreError where e.code == .notFound { return nil } catch {
            throw Repository.storeError(error, doing: "reading \(key)")
        }
        let header = try decodeWALHeader(object, key: key, name: name)
        let n = Int(object[0]) << 24 | Int(object[1]) << 16 | Int(object[2]) << 8 | Int(object[3])
        let payload = try open(Array(object[(4 + n)...]), what: key)
        let contents: [UInt8]
        if payload.count == header.size, header.storedSize == header.size {
            contents = payload
        } else {
            do { contents = try Zstd.decompress(payload, expectedSize: header.size) } catch {
                throw KuraError(.corrupt, "\(key) does not decompress: \(error)", hint: "restore the object from a copy of the repository")
            }
        }
        guard contents.count == header.size, Hex.encode(SHA256.hash(contents)) == header.sha256 else {
            throw KuraError(.corrupt, "\(key) is damaged: its contents do not match the SHA-256 recorded when it was archived",
                            hint: "restore the object from a copy of the repository; recovery cannot go past this segment")
        }
        return (header, contents)
    }

    /// The names of every archived WAL file with its object size (one listing), sorted by name.
    public func listWALFiles() async throws -> [(name: String, size: Int)] {
        let infos: [ObjectInfo]
        do { infos = try await store.list(prefix: Repository.walPrefix) } catch { throw Repository.storeError(error, doing: "listing WAL") }
        return infos.map { (String($0.key.dropFirst(Repository.walPrefix.count)), $0.size) }
            .filter { Repository.isWALFileName($0.0) }
            .sorted { $0.0 < $1.0 }
    }

    /// Deletes archived WAL files (WAL retention), under the exclusive lock: no `wal-push` runs meanwhile.
    public func deleteWALFiles(_ names: [String]) async throws {
        guard !names.isEmpty else { return }
        try await withLock(.exclusive) { _ in
            for name in names { try await delete(try Repository.walKey(name)) }
        }
    }
}
