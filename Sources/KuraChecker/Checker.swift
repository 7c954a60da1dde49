import Foundation
import KuraCrypto
import KuraRepository
import KuraStore
import Synchronization

/// What `kura check` looks at beyond the structure.
public struct CheckOptions: Sendable {
    /// Which packs to read in full (`--read-data`, `--read-data-subset`).
    public enum DataSubset: Sendable, Equatable {
        /// Every pack.
        case all
        /// Packs whose first id byte modulo `of` is `part - 1` (`1/7` … `7/7` cover everything in a week).
        case part(Int, of: Int)
        /// A random sample of this fraction of the packs (0...1).
        case fraction(Double)

        /// Parses `N/M` or `P%`.
        public static func parse(_ text: String) throws -> DataSubset {
            if text.hasSuffix("%"), let p = Double(text.dropLast()), p > 0, p <= 100 { return .fraction(p / 100) }
            let parts = text.split(separator: "/")
            if parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]), m >= 1, n >= 1, n <= m { return .part(n, of: m) }
            throw KuraError(.usage, "--read-data-subset \(text): not a subset; accepted values: N/M with 1 ≤ N ≤ M (e.g. 1/7) or a percentage above 0 and at most 100 (e.g. 10%)",
                            hint: "use N/M (e.g. 1/7) or a percentage (e.g. 10%)")
        }

        func includes(_ pack: BlobID) -> Bool {
            switch self {
            case .all: return true
            case .part(let n, let m): return Int(pack.w0 >> 56) % m == n - 1
            case .fraction(let f): return Double.random(in: 0..<1) < f
            }
        }
    }

    /// nil: structure only; else read and verify these packs' blobs.
    public var readData: DataSubset?
    /// Packs read at the same time.
    public var parallelism = 4
    public init(readData: DataSubset? = nil) { self.readData = readData }
}

/// One problem `check` found.
public struct CheckProblem: Sendable, Codable, Equatable {
    /// "config", "key", "index", "pack", "blob", "snapshot", "tree".
    public var kind: String
    /// The object (key in the store) or blob id.
    public var object: String
    public var message: String
    /// For damaged or missing data: the snapshots (short ids) and paths that need it.
    public var affects: [String] = []
}

/// What `kura check` found.
public struct CheckReport: Sendable, Codable {
    public var problems: [CheckProblem] = []
    /// Warnings that do not make the repository unusable (e.g. packs not in any index, left by an interrupted backup).
    public var warnings: [String] = []
    /// What to do about the problems, in order (e.g. "run `kura repair index` first …").
    public var nextSteps: [String] = []
    public var snapshots = 0
    public var trees = 0
    public var packs = 0
    public var packsRead = 0
    public var blobsVerified = 0
    public var bytesRead: UInt64 = 0
    public var isHealthy: Bool { problems.isEmpty }
}

/// `kura check`: proves that every snapshot can be restored. Without `readData` it checks the
/// structure (every object's name against its SHA-256, every index file, every pack header against the
/// index, every snapshot's trees and that every chunk is indexed); with it, it also reads the chosen
/// packs in full and verifies every blob's tag and SHA-256. Problems name the damaged object and the
/// snapshots and paths it affects.
public struct Checker: Sendable {
    public let repository: Repository
    public let options: CheckOptions
    let progress: (@Sendable (String) -> Void)?

    public init(repository: Repository, options: CheckOptions, progress: (@Sendable (String) -> Void)? = nil) {
        self.repository = repository
        self.options = options
        self.progress = progress
    }

    public func run() async throws -> CheckReport {
        try await repository.withLock(.shared) { _ in try await runLocked() }
    }

    private func runLocked() async throws -> CheckReport {
        var report = CheckReport()

        // 1. Keys: every key file is named by its content.
        for key in try await list("keys/") {
            do { _ = try await repository.readVerified(key.key) } catch { report.problems.append(CheckProblem(kind: "key", object: key.key, message: "\(error)")) }
        }

        // 2. Index files: each must be named by its content, decrypt and parse.
        progress?("checking index")
        var indexed: [BlobID: [PackEntry]] = [:]     // pack → entries, from the index files
        var superseded = Set<BlobID>()
        var indexFiles: [(BlobID, IndexFile)] = []
        for info in try await list("index/") {
            guard let id = BlobID(hex: String(info.key.dropFirst(6))) else { continue }
            do { indexFiles.append((id, try await repository.readIndexFile(info.key))) } catch {
                report.problems.append(CheckProblem(kind: "index", object: info.key, message: "\(error)"))
                let step = "run `kura repair index`: it rebuilds the index from the pack headers"
                if !report.nextSteps.contains(step) { report.nextSteps.append(step) }
            }
        }
        for (_, f) in indexFiles { superseded.formUnion(f.supersedes) }
        for (id, f) in indexFiles where !superseded.contains(id) { for p in f.packs { indexed[p.id, default: []].append(contentsOf: p.entries) } }
        var blobHome: [BlobID: BlobID] = [:]         // blob → pack
        for (pack, entries) in indexed { for e in entries { blobHome[e.id] = pack } }

        // 3. Packs: every indexed pack exists; its header agrees with the index; unindexed packs are noted.
        progress?("checking packs")
        let packInfos = try await list("data/")
        var sizes: [BlobID: Int] = [:]
        for p in packInfos { if let id = BlobID(hex: String(p.key.split(separator: "/").last ?? "")) { sizes[id] = p.size } }
        report.packs = sizes.count
        var damagedPacks = Set<BlobID>()
        var packProblem: [BlobID: Int] = [:]   // damaged pack → index of its problem (to add what it affects)
        for (pack, entries) in indexed {
            guard let size = sizes[pack] else {
                damagedPacks.insert(pack)
                packProblem[pack] = report.problems.count
                report.problems.append(CheckProblem(kind: "pack", object: Pack.key(pack), message: "pack is missing but the index lists \(entries.count) blobs in it"))
                continue
            }
            do {
                let header = try await repository.readPackHeader(pack, size: size)
                let fromHeader = Dictionary(header.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                for e in entries where fromHeader[e.id] != e {
                    damagedPacks.insert(pack)
                    packProblem[pack] = report.problems.count
                    report.problems.append(CheckProblem(kind: "pack", object: Pack.key(pack), message: "the index entry of blob \(e.id.short) does not match the pack header"))
                    break
                }
            } catch {
                damagedPacks.insert(pack)
                packProblem[pack] = report.problems.count
                report.problems.append(CheckProblem(kind: "pack", object: Pack.key(pack), message: "\(error)"))
            }
        }
        let missingPacks = Set(indexed.keys.filter { sizes[$0] == nil })
        if !missingPacks.isEmpty {
            report.nextSteps.append("run `kura repair index` first: the index still lists the \(missingPacks.count) missing pack\(missingPacks.count == 1 ? "" : "s"), so backups would reuse their lost chunks (until then every backup drops them from the index before it dedups); then `kura repair snapshots` rewrites the snapshots that lost data")
            // Leave a marker so that the next backup stops trusting the index before it dedups (not
            // possible without a lock, e.g. on a read-only copy; the next step above says what to do).
            try? await repository.markMissingPacks(missingPacks)
        }
        let unindexed = sizes.keys.filter { indexed[$0] == nil }
        if !unindexed.isEmpty {
            report.warnings.append("\(unindexed.count) packs are in no index (left by an interrupted backup or gc); `kura gc` removes them, `kura repair index` would index them")
        }

        // 4. Snapshots and trees: every tree loads and verifies, every chunk is indexed.
        progress?("checking snapshots")
        let snapshots = try await snapshotsChecked(&report)
        report.snapshots = snapshots.count
        var missingBlobs = Set<BlobID>()
        var seenTrees = Set<BlobID>()
        for s in snapshots {
            guard let root = s.treeID else { continue }
            try await walk(root, path: [47], seen: &seenTrees) { id, path, isTree, error in
                if let error {
                    report.problems.append(CheckProblem(kind: "tree", object: id.hex, message: "\(error)", affects: ["\(s.id?.short ?? "") \(PathBytes.display(path))"]))
                } else if !isTree, blobHome[id] == nil {
                    missingBlobs.insert(id)
                }
            }
        }
        report.trees = seenTrees.count
        // What damaged or missing packs and missing blobs take away, by snapshot and path.
        let lostInPacks = Set(damagedPacks.flatMap { indexed[$0]?.map(\.id) ?? [] })
        if !missingBlobs.isEmpty || !lostInPacks.isEmpty {
            let affected = try await affectedPaths(of: missingBlobs.union(lostInPacks), in: snapshots)
            for id in missingBlobs.sorted() {
                report.problems.append(CheckProblem(kind: "blob", object: id.hex, message: "blob \(id.short) is not in any index", affects: affected[id] ?? []))
            }
            for (pack, i) in packProblem {
                var affects: [String] = []
                for e in indexed[pack] ?? [] { for a in affected[e.id] ?? [] where !affects.contains(a) && affects.count < 20 { affects.append(a) } }
                report.problems[i].affects = affects
            }
        }

        // 5. Data: read packs in full and verify every blob.
        if let subset = options.readData {
            let chosen = indexed.keys.filter { sizes[$0] != nil && !damagedPacks.contains($0) && subset.includes($0) }.sorted()
            progress?("reading \(chosen.count) packs")
            let results = try await readPacks(chosen, sizes: sizes, indexed: indexed)
            var damagedBlobs = Set<BlobID>()
            for r in results {
                report.packsRead += 1
                report.bytesRead += r.bytes
                report.blobsVerified += r.verified
                for p in r.problems { report.problems.append(p) }
                damagedBlobs.formUnion(r.damaged)
            }
            if !damagedBlobs.isEmpty {
                let affected = try await affectedPaths(of: damagedBlobs, in: snapshots)
                for i in report.problems.indices where report.problems[i].kind == "blob" {
                    if let id = BlobID(hex: report.problems[i].object), let a = affected[id] { report.problems[i].affects = a }
                }
            }
        }
        return report
    }

    private func list(_ prefix: String) async throws -> [ObjectInfo] {
        do { return try await repository.store.list(prefix: prefix) } catch {
            throw KuraError(.io, "listing \(prefix) failed: \(error)")
        }
    }

    private func snapshotsChecked(_ report: inout CheckReport) async throws -> [Snapshot] {
        var out: [Snapshot] = []
        for id in try await repository.snapshotIDs() {
            do { out.append(try await repository.loadSnapshot(id)) } catch {
                report.problems.append(CheckProblem(kind: "snapshot", object: "snapshots/\(id.hex)", message: "\(error)",
                                                    affects: ["snapshot \(id.short) cannot be read; restore it from a copy of the repository or remove it with `kura forget \(id.short)`"]))
            }
        }
        return out
    }

    /// Walks a tree; `visit(id, path, isTree, error)` is called for every tree (with a load error, if any)
    /// and every chunk. Trees already seen are not walked again.
    private func walk(_ tree: BlobID, path: [UInt8], seen: inout Set<BlobID>,
                      visit: (BlobID, [UInt8], Bool, (any Error)?) -> Void) async throws {
        guard seen.insert(tree).inserted else { return }
        let t: Tree
        do { t = try await repository.loadTree(tree) } catch { visit(tree, path, true, error); return }
        visit(tree, path, true, nil)
        for n in t.nodes {
            let p = path == [47] ? [47] + n.name : path + [47] + n.name
            if n.type == .file { for e in n.content { if let id = e.id { visit(id, p, false, nil) } } }
            if n.type == .directory, let sub = n.subtree { try await walk(sub, path: p, seen: &seen, visit: visit) }
        }
    }

    /// For each blob in `blobs`: "SNAPSHOT PATH" of every file (or folder) that needs it, at most 20.
    public func affectedPaths(of blobs: Set<BlobID>, in snapshots: [Snapshot]) async throws -> [BlobID: [String]] {
        var out: [BlobID: [String]] = [:]
        for s in snapshots {
            guard let root = s.treeID else { continue }
            var seen = Set<BlobID>()
            try await walk(root, path: [47], seen: &seen) { id, path, _, _ in
                if blobs.contains(id), (out[id]?.count ?? 0) < 20 { out[id, default: []].append("\(s.id?.short ?? "") \(PathBytes.display(path))") }
            }
        }
        return out
    }

    struct PackResult: Sendable { var bytes: UInt64; var verified: Int; var damaged: Set<BlobID>; var problems: [CheckProblem] }

    /// Reads packs in parallel (bounded) and verifies each one's hash, header and blobs.
    private func readPacks(_ packs: [BlobID], sizes: [BlobID: Int], indexed: [BlobID: [PackEntry]]) async throws -> [PackResult] {
        let done = Mutex(0)
        return try await withThrowingTaskGroup(of: PackResult.self) { group in
            var results: [PackResult] = []
            var next = 0
            func spawn() {
                let pack = packs[next]
                next += 1
                group.addTask { try await verifyPack(pack, entries: indexed[pack] ?? []) }
            }
            while next < packs.count, next < max(1, options.parallelism) { spawn() }
            while let r = try await group.next() {
                results.append(r)
                let n = done.withLock { $0 += 1; return $0 }
                progress?("read \(n)/\(packs.count) packs")
                if next < packs.count { spawn() }
            }
            return results
        }
    }

    private func verifyPack(_ pack: BlobID, entries: [PackEntry]) async throws -> PackResult {
        let key = Pack.key(pack)
        var result = PackResult(bytes: 0, verified: 0, damaged: [], problems: [])
        let bytes: [UInt8]
        do { bytes = try await repository.store.get(key) } catch {
            result.problems.append(CheckProblem(kind: "pack", object: key, message: "cannot be read: \(error)"))
            result.damaged.formUnion(entries.map(\.id))
            return result
        }
        result.bytes = UInt64(bytes.count)
        if BlobID(bytes: SHA256.hash(bytes)) != pack {
            result.problems.append(CheckProblem(kind: "pack", object: key, message: "the pack's SHA-256 does not match its name: it was modified or damaged"))
        }
        for e in entries {
            let end = Int(e.offset) + Int(e.length)
            do {
                guard end <= bytes.count else { throw KuraError(.corrupt, "blob reaches past the end of the pack") }
                _ = try repository.decodeBlob(Array(bytes[Int(e.offset)..<end]), location: BlobLocation(pack: pack, entry: e))
                result.verified += 1
            } catch {
                result.damaged.insert(e.id)
                result.problems.append(CheckProblem(kind: "blob", object: e.id.hex, message: "\(e.type) blob \(e.id.short) in \(key) is damaged: \(error)"))
            }
        }
        return result
    }
}
