import Foundation
import KuraRepository

/// A restore rehearsal without writing files: every file of a snapshot is read back as a restore would
/// read it — each chunk fetched, authenticated, decompressed and re-hashed — and its length compared
/// with the recorded size. Proves that the snapshot restores, without the disk space a real one takes.
public struct RestoreVerifier: Sendable {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    public struct Result: Sendable {
        public var snapshot: String
        public var files = 0
        public var bytes: UInt64 = 0
        public var problems: [String] = []
        public var seconds: Double = 0
        public var ok: Bool { problems.isEmpty }
        public var text: String {
            ok ? "ok (\(files) files, \(bytes) bytes read back from snapshot \(snapshot.prefix(8)))"
               : "\(problems.count) problems in snapshot \(snapshot.prefix(8)): \(problems.prefix(3).joined(separator: "; "))"
        }

        struct Record: Codable { var snapshot: String; var source: String; var host: String; var time: Date; var ok: Bool; var files: Int; var bytes: UInt64; var problems: [String]; var seconds: Double }
        func record(source: String, host: String, time: Date) -> some Encodable {
            Record(snapshot: snapshot, source: source, host: host, time: time, ok: ok, files: files, bytes: bytes, problems: Array(problems.prefix(100)), seconds: seconds)
        }
    }

    public func verify(_ snapshot: Snapshot) async throws -> Result {
        try await repository.withLock(.shared) { _ in try await verifyLocked(snapshot) }
    }

    private func verifyLocked(_ snapshot: Snapshot) async throws -> Result {
        let started = Date()
        var result = Result(snapshot: snapshot.id?.hex ?? "")
        try await repository.loadIndex()
        guard let root = snapshot.treeID else { result.problems.append("the snapshot has no valid tree id"); return result }
        var stack: [(BlobID, String)] = [(root, "")]
        var verified = Set<BlobID>()
        while let (id, path) = stack.popLast() {
            let tree: Tree
            do { tree = try await repository.loadTree(id) } catch { result.problems.append("\(path.isEmpty ? "/" : path): tree \(id.short): \(error)"); continue }
            for node in tree.nodes {
                let p = path + "/" + node.displayName
                switch node.type {
                case .directory:
                    if let sub = node.subtree { stack.append((sub, p)) } else { result.problems.append("\(p): folder without a tree") }
                case .file:
                    var length: UInt64 = 0
                    var bad = false
                    for extent in node.content {
                        if let chunk = extent.id {
                            if verified.contains(chunk) { length += extent.length; continue }
                            do {
                                let bytes = try await repository.loadBlob(chunk, verifyHash: true)
                                guard UInt64(bytes.count) == extent.length else { result.problems.append("\(p): chunk \(chunk.short) is \(bytes.count) bytes, the tree says \(extent.length)"); bad = true; break }
                                verified.insert(chunk)
                                length += extent.length
                            } catch { result.problems.append("\(p): chunk \(chunk.short): \(error)"); bad = true; break }
                        } else { length += extent.length }
                    }
                    if !bad, length != node.size { result.problems.append("\(p): read \(length) bytes, recorded size \(node.size)") }
                    result.files += 1
                    result.bytes += length
                default:
                    break
                }
            }
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }
}
