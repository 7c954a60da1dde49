import Foundation
import KuraCrypto
import KuraStore

/// A small sealed JSON document kept in the repository beside the snapshots: results of restore
/// verifications, run reports and the like, so that any host sharing the repository can show them.
/// Stored as `records/<kind>/<SHA-256 of the stored bytes>`; immutable like every other object.
public struct RepositoryRecord: Sendable {
    public var kind: String
    public var id: BlobID
    /// The JSON document (plaintext).
    public var json: [UInt8]
    /// When it was written (from the sealed envelope).
    public var time: Date
}

extension Repository {
    struct RecordEnvelope: Codable { var time: String; var kind: String; var body: String }

    static func checkKind(_ kind: String) throws {
        guard !kind.isEmpty, kind.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 45 }) else {
            throw KuraError(.invalidArgument, "record kind '\(kind)' must be lower-case letters, digits and '-'")
        }
    }

    /// Stores a record of `kind` (lower-case letters, digits, '-') with a JSON body.
    @discardableResult
    public func saveRecord(kind: String, json: [UInt8], time: Date = Date()) async throws -> BlobID {
        try Repository.checkKind(kind)
        let envelope = RecordEnvelope(time: Timestamp.format(time), kind: kind, body: Data(json).base64EncodedString())
        let sealed = try seal(try JSON.encode(envelope, pretty: false))
        return try await withLock(.shared) { _ in try await putNamedByContent(folder: "records/\(kind)", sealed) }
    }

    /// Every record of `kind`, oldest first. Unreadable records are skipped (check reports them).
    public func listRecords(kind: String) async throws -> [RepositoryRecord] {
        try Repository.checkKind(kind)
        let infos: [ObjectInfo]
        do { infos = try await store.list(prefix: "records/\(kind)/") } catch { throw Repository.storeError(error, doing: "listing records") }
        var out: [RepositoryRecord] = []
        for info in infos {
            guard let id = BlobID(hex: String(info.key.split(separator: "/").last ?? "")),
                  let stored = try? await getNamedByContent(info.key), let plain = try? open(stored, what: info.key),
                  let env = try? JSON.decode(RecordEnvelope.self, from: plain, what: info.key),
                  let body = Data(base64Encoded: env.body) else { continue }
            out.append(RepositoryRecord(kind: kind, id: id, json: Array(body), time: Timestamp.parse(env.time) ?? .distantPast))
        }
        return out.sorted { $0.time < $1.time }
    }

    /// Deletes a record (e.g. to keep only the newest few).
    public func deleteRecord(kind: String, id: BlobID) async throws {
        try Repository.checkKind(kind)
        try await withLock(.exclusive) { _ in try await delete("records/\(kind)/\(id.hex)") }
    }
}
