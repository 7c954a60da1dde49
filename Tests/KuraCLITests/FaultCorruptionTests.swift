import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Single flipped bits and truncations at random positions in packs, index files, snapshots, keys
/// and the config. Detection must be 100 %: every damage makes the right command fail and name the
/// damaged object. Each trial damages a fresh copy of a pristine repository.
@Suite("fault injection: damaged repository files")
struct FaultCorruptionTests {
    /// A repository with two snapshots of a small tree, made once per test and copied per trial.
    struct Pristine {
        let repo: String
        let src: String
        let tree: FaultTree
        let snapshotIDs: [String]
        /// The files of each snapshot.
        let manifests: [[String: FaultTree.Spec]]
        var shorts: [String] { snapshotIDs.map { String($0.prefix(8)) } }
    }

    func makePristine(_ s: Sandbox, seed: UInt64) async throws -> Pristine {
        let repo = s.path("pristine")
        try await faultKuraOK(s, ["init", "-q", "--pack-size", "1"], repo: repo)
        let src = s.path("src")
        var rng = SplitMix64(state: seed)
        var tree = FaultTree(root: src, seed: seed)
        try tree.populate(files: 40, folders: 4, rng: &rng)
        for i in 0..<3 { try tree.write("big/b\(i).bin", size: 700_000) }
        var ids: [String] = []
        var manifests = [tree.files]
        ids.append(try #require(try await faultKuraOK(s, ["backup", "--json", src], repo: repo).jsonObject()["snapshot"] as? String))
        try tree.mutate(addBytes: 300_000, modify: 4, delete: 4, rng: &rng)
        manifests.append(tree.files)
        ids.append(try #require(try await faultKuraOK(s, ["backup", "--json", src], repo: repo).jsonObject()["snapshot"] as? String))
        return Pristine(repo: repo, src: src, tree: tree, snapshotIDs: ids, manifests: manifests)
    }

    /// A fresh copy of the pristine repository.
    func copy(_ p: Pristine, _ s: Sandbox, _ n: Int) throws -> String {
        let work = s.path("work-\(n)")
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.copyItem(atPath: p.repo, toPath: work)
        return work
    }

    /// kura on a copy, without the local index cache (every copy has the same repository id).
    func kura(_ s: Sandbox, _ args: [String], repo: String, password: PasswordSource = .environment) async throws -> RunResult {
        try await s.kura(args + ["--no-cache"], repo: .path(repo), password: password)
    }

    /// Flips a random bit, or truncates at a random length (shorter than the file), in `range`.
    /// Returns a description for messages.
    func damage(_ path: String, truncate: Bool, in range: Range<Int>? = nil, rng: inout SplitMix64) throws -> String {
        let size = faultSize(path)
        let r = range ?? 0..<size
        let at = Int.random(in: r, using: &rng)
        if truncate {
            try FaultDamage.truncate(path, to: at)
            return "truncated from \(size) to \(at) bytes"
        }
        let bit = Int.random(in: 0..<8, using: &rng)
        try FaultDamage.flipBit(path, at: at, bit: bit)
        return "bit \(bit) of byte \(at) of \(size) flipped"
    }

    /// "affects SHORT PATH" lines of check's text output.
    func affected(_ out: String) -> [(short: String, path: String)] {
        out.split(separator: "\n").compactMap { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("affects ") else { return nil }
            let parts = t.dropFirst("affects ".count).split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }

    // MARK: - Packs

    @Test func damagedPacksAreDetectedNamedAndTheirSnapshotsShown() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("packs")
            let p = try await makePristine(s, seed: rng.next())
            // Three kinds, three trials each: a bit in the blobs, a bit in the header (or its length), a truncation inside the blobs.
            for trial in 0..<9 {
                let kind = trial % 3
                let work = try copy(p, s, trial)
                defer { try? FileManager.default.removeItem(atPath: work) }
                let packs = faultObjects(work, "data")
                let key = packs[Int.random(in: 0..<packs.count, using: &rng)]
                let path = work + "/" + key
                let bytes = try RawFS.read(Array(path.utf8))
                let headerLength = bytes.suffix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
                let blobEnd = bytes.count - 4 - headerLength
                try #require(blobEnd > 0 && blobEnd < bytes.count, "unexpected pack layout of \(key)")
                let what: String
                switch kind {
                case 0: what = try damage(path, truncate: false, in: 0..<blobEnd, rng: &rng)
                case 1: what = try damage(path, truncate: false, in: blobEnd..<bytes.count, rng: &rng)
                default: what = try damage(path, truncate: true, in: 0..<blobEnd, rng: &rng)
                }
                let context = "pack \(key): \(what) (KURA_FAULT_SEED=\(FaultConfig.seed))"
                let r = try await kura(s, ["check", "--read-data"], repo: work)
                #expect(r.status == 1, "\(context): \(r)")
                #expect(r.out.contains(key), "\(context): check does not name the pack: \(r)")
                // Blob bytes were lost or changed: check must say which snapshots and files that hurts.
                if kind != 1 {
                    let hits = affected(r.out).filter { p.shorts.contains($0.short) && $0.path.hasPrefix("/") }
                    #expect(!hits.isEmpty, "\(context): check names no affected snapshot and path: \(r)")
                }
            }
        }
    }

    // MARK: - Index files

    @Test func damagedIndexFilesAreDetectedAndNamed() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("index")
            let p = try await makePristine(s, seed: rng.next())
            for trial in 0..<6 {
                let work = try copy(p, s, trial)
                defer { try? FileManager.default.removeItem(atPath: work) }
                let files = faultObjects(work, "index")
                let key = files[Int.random(in: 0..<files.count, using: &rng)]
                let what = try damage(work + "/" + key, truncate: trial % 3 == 2, rng: &rng)
                let context = "\(key): \(what) (KURA_FAULT_SEED=\(FaultConfig.seed))"
                let r = try await kura(s, ["check"], repo: work)
                #expect(r.status == 1, "\(context): \(r)")
                #expect(r.out.contains(key), "\(context): check does not name the index file: \(r)")
            }
        }
    }

    // MARK: - Snapshots

    @Test func damagedSnapshotsAreDetectedAndNamed() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("snapshots")
            let p = try await makePristine(s, seed: rng.next())
            for trial in 0..<6 {
                let work = try copy(p, s, trial)
                defer { try? FileManager.default.removeItem(atPath: work) }
                let id = p.snapshotIDs[Int.random(in: 0..<p.snapshotIDs.count, using: &rng)]
                let key = "snapshots/" + id
                let what = try damage(work + "/" + key, truncate: trial % 3 == 2, rng: &rng)
                let context = "\(key): \(what) (KURA_FAULT_SEED=\(FaultConfig.seed))"
                let r = try await kura(s, ["check"], repo: work)
                #expect(r.status == 1, "\(context): \(r)")
                #expect(r.out.contains(key), "\(context): check does not name the snapshot: \(r)")
            }
        }
    }

    /// What check recommends doing about a damaged snapshot must exist and work: here `kura forget ID`.
    @Test func checkRecommendsCommandsThatExistAndWork() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("recommend")
            let p = try await makePristine(s, seed: rng.next())
            let known = try await faultSubcommands(s)
            try #require(known.contains("check") && known.contains("repair"), "cannot parse `kura --help`: \(known)")
            let work = try copy(p, s, 0)
            let damaged = p.snapshotIDs[0]
            try FaultDamage.flipBit(work + "/snapshots/" + damaged, at: 40, bit: 0)
            let r = try await kura(s, ["check"], repo: work)
            #expect(r.status == 1, "\(r)")
            let unknown = faultUnknownRecommendedCommands(r.all, known: known)
            #expect(unknown.isEmpty, "check recommends `kura \(unknown.joined(separator: "`, `kura "))`, which kura does not have (subcommands: \(known.sorted())): \(r)")
            // Follow the advice given for the damaged snapshot.
            let forgetAdvised = r.all.contains("kura forget \(damaged.prefix(8))")
            let forget = try await kura(s, ["forget", String(damaged.prefix(8))], repo: work)
            #expect(forget.status == 0, "check advises `kura forget \(damaged.prefix(8))` (\(forgetAdvised)), which fails on the damaged snapshot: \(forget)")
            let after = try await kura(s, ["check", "--read-data"], repo: work)
            #expect(after.status == 0, "\(after)")
            #expect(faultObjects(work, "snapshots") == ["snapshots/" + p.snapshotIDs[1]])
        }
    }

    /// One damaged old snapshot file must not stop new backups or hide the other snapshots
    /// (a bit flip in an old snapshot would otherwise make every scheduled backup fail).
    @Test func aDamagedOldSnapshotDoesNotStopNewBackups() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("damaged-old")
            let p = try await makePristine(s, seed: rng.next())
            let work = try copy(p, s, 0)
            try FaultDamage.flipBit(work + "/snapshots/" + p.snapshotIDs[0], at: 40, bit: 0)
            let backup = try await kura(s, ["backup", "--json", p.src], repo: work)
            #expect(backup.status == 0, "a backup fails because an old snapshot is damaged: \(backup)")
            let list = try await kura(s, ["snapshots", "--json"], repo: work)
            #expect(list.status == 0, "snapshots fails because one snapshot is damaged: \(list)")
            let rel = try #require(p.manifests[1].keys.sorted().last)
            let cat = try await kura(s, ["cat", "\(p.snapshotIDs[1].prefix(8)):\(p.src)/\(rel)"], repo: work)
            #expect(cat.status == 0 && cat.stdout == Data(FaultTree.contents(p.manifests[1][rel]!)), "\(cat.err)")
        }
    }

    // MARK: - Keys

    @Test func damagedKeyWithASingleKeyIsNamed() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("one-key")
            let p = try await makePristine(s, seed: rng.next())
            for trial in 0..<4 {
                let work = try copy(p, s, trial)
                defer { try? FileManager.default.removeItem(atPath: work) }
                let keys = faultObjects(work, "keys")
                try #require(keys.count == 1)
                let what = try damage(work + "/" + keys[0], truncate: trial % 2 == 1, rng: &rng)
                let context = "\(keys[0]): \(what) (KURA_FAULT_SEED=\(FaultConfig.seed))"
                let r = try await kura(s, ["snapshots"], repo: work)
                #expect(r.status == 12 || r.status == 1, "\(context): \(r)")
                #expect(r.err.contains(keys[0]), "\(context): the damaged key file is not named: \(r)")
                #expect(r.out.isEmpty || !r.out.contains("snapshots"), "\(context): \(r)")
            }
        }
    }

    @Test func damagedKeyWithTwoKeysIsNamedByCheck() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("two-keys")
            let p = try await makePristine(s, seed: rng.next())
            let second = "second-\(UUID().uuidString)"
            let secondFile = try s.passwordFile(contents: second + "\n", name: "second-password")
            let add = try await s.kura(["key", "add", "--new-password-file", secondFile], repo: .path(p.repo))
            try #require(add.status == 0, "\(add)")
            let list = try await s.kura(["key", "list", "--json"], repo: .path(p.repo))
            let keys = try list.jsonArray()
            try #require(keys.count == 2, "\(list)")
            let firstKey = "keys/" + (keys.first { $0["current"] as? Bool == true }?["id"] as? String ?? "")
            let secondKey = "keys/" + (keys.first { $0["current"] as? Bool != true }?["id"] as? String ?? "")
            let passwords: [String: PasswordSource] = [firstKey: .environment, secondKey: .value(second)]
            for trial in 0..<4 {
                let work = try copy(p, s, trial)
                defer { try? FileManager.default.removeItem(atPath: work) }
                let (damaged, other) = trial % 2 == 0 ? (secondKey, firstKey) : (firstKey, secondKey)
                let what = try damage(work + "/" + damaged, truncate: trial >= 2, rng: &rng)
                let context = "\(damaged): \(what) (KURA_FAULT_SEED=\(FaultConfig.seed))"
                // Opened with the other password, check names the damaged key file.
                let r = try await kura(s, ["check"], repo: work, password: passwords[other]!)
                #expect(r.status == 1, "\(context): \(r)")
                #expect(r.out.contains(damaged), "\(context): check does not name the damaged key: \(r)")
                // Its own password no longer opens the repository, and the message says why.
                let own = try await kura(s, ["snapshots"], repo: work, password: passwords[damaged]!)
                #expect(own.status == 12 || own.status == 1, "\(context): \(own)")
                #expect(own.err.contains(damaged), "\(context): the damaged key file is not named: \(own)")
            }
        }
    }

    // MARK: - Config

    @Test func damagedConfigIsAlwaysRefused() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("config")
            let p = try await makePristine(s, seed: rng.next())
            let pristine = try RawFS.read(Array((p.repo + "/config").utf8))
            let text = String(decoding: pristine, as: UTF8.self)
            // Random bits anywhere and random truncations, plus one bit in each plaintext field's value.
            enum Damage { case bit(Int, Int), truncate(Int) }
            var cases: [(String, Damage)] = []
            for _ in 0..<8 { cases.append(("random bit", .bit(Int.random(in: 0..<pristine.count, using: &rng), Int.random(in: 0..<8, using: &rng)))) }
            for _ in 0..<3 { cases.append(("truncation", .truncate(Int.random(in: 0..<pristine.count, using: &rng)))) }
            for field in ["\"created\" : \"", "\"id\" : \"", "\"packSize\" : ", "\"compressionLevel\" : ", "\"minSize\" : "] {
                guard let range = text.range(of: field) else { Issue.record("config has no \(field): \(text)"); continue }
                let offset = text.utf8.distance(from: text.utf8.startIndex, to: range.upperBound) + 1
                cases.append(("a bit of the value of \(field)", .bit(offset, 0)))
            }
            for (n, (label, damage)) in cases.enumerated() {
                let work = try copy(p, s, n)
                defer { try? FileManager.default.removeItem(atPath: work) }
                let what: String
                switch damage {
                case .bit(let offset, let bit):
                    try FaultDamage.flipBit(work + "/config", at: offset, bit: bit)
                    what = "bit \(bit) of byte \(offset) of \(pristine.count) flipped"
                case .truncate(let length):
                    try FaultDamage.truncate(work + "/config", to: length)
                    what = "truncated from \(pristine.count) to \(length) bytes"
                }
                let changed = String(decoding: try RawFS.read(Array((work + "/config").utf8)), as: UTF8.self)
                let context = "config, \(label): \(what) (KURA_FAULT_SEED=\(FaultConfig.seed))\n--- damaged config:\n\(changed)"
                for args in [["snapshots"], ["backup", p.src]] {
                    let r = try await kura(s, args, repo: work)
                    #expect(r.status == 1, "\(context)\n`kura \(args[0])` was not refused: \(r)")
                    #expect(r.err.contains("config") || r.err.contains("format version"), "\(context)\n`kura \(args[0])` does not blame the config: \(r)")
                }
            }
        }
    }

    // MARK: - Lost index

    @Test func aRepositoryWithoutItsIndexIsUsableAfterRepairIndex() async throws {
        try await withFaultSandbox { s in
            var rng = FaultConfig.rng("repair-index")
            let p = try await makePristine(s, seed: rng.next())
            try FileManager.default.removeItem(atPath: p.repo + "/index")
            let broken = try await s.kura(["check"], repo: .path(p.repo))
            #expect(broken.status == 1, "check passes without any index: \(broken)")

            let repair = try await s.kura(["repair", "index"], repo: .path(p.repo))
            #expect(repair.status == 0, "\(repair)")
            let check = try await s.kura(["check", "--read-data"], repo: .path(p.repo))
            #expect(check.status == 0, "\(check)")
            #expect(!check.all.contains("in no index"), "\(check)")
            let target = s.path("restored")
            let restore = try await s.kura(["restore", "latest:\(p.src)", "--target", target], repo: .path(p.repo))
            #expect(restore.status == 0, "\(restore)")
            let differences = treeDifferences(expected: try scanTree(p.src), actual: try scanTree(target))
            #expect(differences.isEmpty, "\(differences.prefix(10))")
            // The older snapshot too, and new backups work.
            let oldTarget = s.path("restored-old")
            let old = try await s.kura(["restore", "\(p.snapshotIDs[0].prefix(8)):\(p.src)", "--target", oldTarget], repo: .path(p.repo))
            #expect(old.status == 0, "\(old)")
            let oldProblems = try FaultTree.differences(p.manifests[0], restoredAt: oldTarget)
            #expect(oldProblems.isEmpty, "\(oldProblems.prefix(10))")
            let again = try await s.kura(["backup", "--json", p.src], repo: .path(p.repo))
            #expect(again.status == 0 && faultBytesAdded((try? again.jsonObject()) ?? [:]) == 0, "after repair index everything is known: \(again)")
        }
    }
}
