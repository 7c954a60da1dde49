import Foundation
import KuraArchiver
import KuraFileSystem
@testable import KuraRepository
import KuraRestorer
import KuraStore
import Testing
import KuraTestSupport

/// Everything about one entry that a restore must reproduce.
struct EntryFacts: Equatable, CustomStringConvertible {
    var kind: FileStatus.Kind
    var mode: UInt32
    var uid: UInt32, gid: UInt32
    var size: Int64
    var mtime: String
    var content: [UInt8]?
    var linkTarget: [UInt8]?
    var rdev: UInt64
    var xattrs: [String]
    var description: String { "\(kind) \(String(mode, radix: 8)) \(uid):\(gid) size \(size) mtime \(mtime) xattrs \(xattrs)" }
}

/// Reads every entry under `root` (relative path → facts), plus hard-link groups.
func survey(_ root: String) throws -> (entries: [[UInt8]: EntryFacts], linkGroups: Set<[[UInt8]]>) {
    var entries: [[UInt8]: EntryFacts] = [:]
    var inodes: [UInt64: [[UInt8]]] = [:]
    func walk(_ dir: Descriptor, _ rel: [UInt8]) throws {
        for name in try dir.directoryEntries() {
            let relPath = rel.isEmpty ? name : rel + [47] + name
            let st = try statAt(dir.fd, name, path: relPath)
            var facts = EntryFacts(kind: st.kind, mode: st.permissions, uid: st.uid, gid: st.gid,
                                   size: st.kind == .regular || st.kind == .symlink ? st.size : 0,
                                   mtime: "\(st.mtimeSeconds).\(st.mtimeNanoseconds)", content: nil, linkTarget: nil,
                                   rdev: st.kind == .characterDevice || st.kind == .blockDevice ? st.rdev : 0, xattrs: [])
            switch st.kind {
            case .regular:
                let f = try Descriptor.openForReading(name, in: dir, path: relPath)
                var data = [UInt8](repeating: 0, count: Int(st.size))
                _ = try data.withUnsafeMutableBytes { try f.read(into: $0, at: 0) }
                facts.content = data
                facts.xattrs = try ExtendedAttributes.read(fd: f.fd, path: relPath).map { String(decoding: $0.name, as: UTF8.self) + "=" + Hex.encode($0.value) }
                if st.links > 1 { inodes[st.inode, default: []].append(relPath) }
            case .directory:
                let d = try Descriptor.openDirectory(name, in: dir, path: relPath)
                facts.xattrs = try ExtendedAttributes.read(fd: d.fd, path: relPath).map { String(decoding: $0.name, as: UTF8.self) + "=" + Hex.encode($0.value) }
                facts.mtime = "\(st.mtimeSeconds).\(st.mtimeNanoseconds)"
                try walk(d, relPath)
            case .symlink:
                facts.linkTarget = try readLinkAt(dir.fd, name, path: relPath)
                facts.mode = 0  // symlink modes are meaningless on Linux
            default: break
            }
            entries[relPath] = facts
        }
    }
    let rootPath = bytes(root)
    try walk(try Descriptor.openDirectory(rootPath, in: nil, path: rootPath), [])
    return (entries, Set(inodes.values.map { $0.sorted { $0.lexicographicallyPrecedes($1) } }))
}

func setTimes(_ path: [UInt8], seconds: Int, nanoseconds: Int) {
    var t = [timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
    _ = RawFS.withPath(path) { utimensat(AT_FDCWD, $0, &t, AT_SYMLINK_NOFOLLOW) }
}

/// Builds a tree with every kind of entry a restore must reproduce.
func makeTrickyTree(_ root: String, xattrs: Bool) throws {
    let r = bytes(root)
    func p(_ s: String) -> [UInt8] { r + [47] + bytes(s) }
    mkdir(root, 0o755)
    try RawFS.write(p("empty"), [])
    try RawFS.write(p("small.txt"), bytes("hello kura\n"))
    try RawFS.write(p("big.bin"), randomBytes(700_000, seed: 42))          // many 16 KiB-average chunks
    try RawFS.write(p("text.log"), Array(String(repeating: "GET /index.html 200\n", count: 20000).utf8))
    mkdir(root + "/sub", 0o750)
    mkdir(root + "/sub/deeper", 0o700)
    try RawFS.write(p("sub/deeper/setuid"), bytes("#!/bin/sh\n"), mode: 0o755)
    _ = RawFS.withPath(p("sub/deeper/setuid")) { chmod($0, 0o4755) }
    mkdir(root + "/sticky", 0o755)
    _ = RawFS.withPath(p("sticky")) { chmod($0, 0o1777) }
    // Names that are not UTF-8, with a newline, with Japanese characters.
    try RawFS.write(r + [47, 0x62, 0x61, 0x64, 0xff, 0xfe], bytes("latin-1 name"))
    try RawFS.write(p("new\nline"), bytes("newline in name"))
    try RawFS.write(p("蔵.txt"), bytes("storehouse"))
    // Symlinks: relative, absolute, dangling.
    _ = symlink("small.txt", root + "/link-rel")
    _ = symlink("/etc/hostname", root + "/link-abs")
    _ = symlink("does/not/exist", root + "/link-dangling")
    // Hard links (three names, one inode).
    try RawFS.write(p("hard-a"), bytes("shared inode"))
    _ = link(root + "/hard-a", root + "/hard-b")
    _ = link(root + "/hard-a", root + "/sub/hard-c")
    // A sparse file: data, a 5 MiB hole, data, and a trailing hole.
    let sparse = p("sparse.img")
    try RawFS.write(sparse, randomBytes(10_000, seed: 7))
    let fd = RawFS.withPath(sparse) { open($0, O_WRONLY) }
    _ = randomBytes(20_000, seed: 8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 5 << 20) }
    _ = ftruncate(fd, 12 << 20)
    close(fd)
    // A FIFO and, as root, device nodes.
    _ = mkfifo(root + "/fifo", 0o640)
    if geteuid() == 0 {
        _ = mknod(root + "/null-dev", S_IFCHR | 0o666, dev_t(makeDevice(major: 1, minor: 3)))
        _ = mknod(root + "/loop-dev", S_IFBLK | 0o660, dev_t(makeDevice(major: 7, minor: 200)))
        _ = chown(root + "/small.txt", 1234, 5678)
        _ = lchown(root + "/link-rel", 4321, 8765)
        _ = chown(root + "/sub", 2000, 2001)
    }
    if xattrs {
        try ExtendedAttributes.set(linkPath: p("small.txt"), name: bytes("user.kura.note"), value: bytes("value\u{0}with nul"), displayPath: p("small.txt"))
        try ExtendedAttributes.set(linkPath: p("sub"), name: bytes("user.dir"), value: [1, 2, 3], displayPath: p("sub"))
    }
    // Nanosecond mtimes everywhere (directories last, children first).
    for (i, name) in ["empty", "small.txt", "big.bin", "text.log", "sub/deeper/setuid", "hard-a", "sparse.img", "fifo", "link-rel", "link-dangling", "new\nline", "蔵.txt"].enumerated() {
        setTimes(p(name), seconds: 1_600_000_000 + i * 1000, nanoseconds: 123_456_789 - i)
    }
    for (i, name) in ["sub/deeper", "sub", "sticky"].enumerated() { setTimes(p(name), seconds: 1_500_000_000 + i, nanoseconds: 999_999_999 - i) }
}

@Suite("Backup and restore round trips on real files")
struct RoundTripTests {
    @Test("every kind of entry survives backup → restore, byte for byte and attribute for attribute")
    func trickyTree() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        let xattrs = supportsUserXattrs(tmp.path)
        try makeTrickyTree(source, xattrs: xattrs)
        let repo = try await makeRepository(store: try StoreFactory.open(tmp.file("repo"), create: true))
        let result = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run()
        #expect(result.exitCode == 0)
        #expect(result.errors.isEmpty)
        #expect(result.snapshot.paths == [source])

        let target = tmp.file("restore")
        let browser = SnapshotBrowser(repository: repo, snapshot: result.snapshot)
        let restored = try await Restorer(repository: repo, options: RestoreOptions(target: target)).restore(browser, entry: try await browser.entry(at: [47]))
        #expect(restored.errors.isEmpty, "\(restored.errors)")

        let before = try survey(source)
        let after = try survey(target + source)  // absolute paths are recreated under the target
        #expect(before.entries.count >= 20)
        #expect(Set(after.entries.keys) == Set(before.entries.keys))
        for (path, facts) in before.entries {
            #expect(after.entries[path] == facts, "\(PathBytes.display(path)): \(facts) → \(after.entries[path].map(\.description) ?? "missing")")
        }
        #expect(after.linkGroups == before.linkGroups)
        #expect(before.linkGroups.first?.count == 3)
        // Holes stay holes: the restored sparse file occupies far less than its 12 MiB.
        let sparse = try statPath(bytes(target + source + "/sparse.img"))
        #expect(sparse.size == 12 << 20)
        #expect(sparse.blocks * 512 < 1 << 20)
        if xattrs { #expect(before.entries[bytes("small.txt")]?.xattrs.count == 1) }
        if geteuid() == 0 { #expect(before.entries[bytes("null-dev")]?.kind == .characterDevice) }
    }

    @Test("cat of one file loads only its own chunks and equals the file; ls and stats see the tree")
    func catAndBrowse() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        try makeTrickyTree(source, xattrs: false)
        let store = try StoreFactory.open(tmp.file("repo"), create: true)
        let repo = try await makeRepository(store: store)
        let snap = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot

        let fresh = try await Repository.open(store: store, password: bytes("correct horse"))
        let browser = SnapshotBrowser(repository: fresh, snapshot: try await fresh.findSnapshot("latest"))
        let entry = try await browser.entry(at: bytes(source + "/big.bin"))
        var out: [UInt8] = []
        try await ContentStreamer(repository: fresh).stream(entry.node!.content) { out += $0 }
        #expect(out == randomBytes(700_000, seed: 42))
        #expect(entry.node!.content.count > 10, "700 kB with 16 KiB average chunks")

        var sparse: [UInt8] = []
        let sparseNode = try await browser.entry(at: bytes(source + "/sparse.img")).node!
        #expect(sparseNode.content.contains { $0.isHole })
        try await ContentStreamer(repository: fresh).stream(sparseNode.content) { sparse += $0 }
        #expect(sparse.count == 12 << 20 && Array(sparse[0..<10_000]) == randomBytes(10_000, seed: 7))
        #expect(Array(sparse[(5 << 20)..<((5 << 20) + 20_000)]) == randomBytes(20_000, seed: 8))

        await #expect(throws: KuraError.self) { try await browser.entry(at: bytes(source + "/missing")) }
        var seen: [[UInt8]] = []
        try await browser.walk(try await browser.entry(at: bytes(source))) { seen.append($0.path); return true }
        #expect(seen.contains(bytes(source + "/sub/deeper/setuid")))

        let stats = try await StatsCollector(repository: fresh).collect([snap])
        #expect(stats.files == (try survey(source).entries.values.filter { $0.kind == .regular }.count))
        #expect(stats.logicalBytes > 12 << 20)
        #expect(stats.storedBytes > 0 && stats.uniqueBytes >= 700_000)
    }

    @Test("a second backup of an unchanged tree adds no data; a changed file adds little; diff names the changes")
    func dedupAndDiff() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        try makeTrickyTree(source, xattrs: false)
        let repo = try await makeRepository(store: try StoreFactory.open(tmp.file("repo"), create: true))
        let first = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        let second = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        #expect(second.summary?.bytesAdded == 0)
        // Same content and metadata give the same tree for the backed-up folder (the folders above it,
        // like /tmp, change as other tests run).
        let firstSrc = try await SnapshotBrowser(repository: repo, snapshot: first).entry(at: bytes(source)).tree
        let secondSrc = try await SnapshotBrowser(repository: repo, snapshot: second).entry(at: bytes(source)).tree
        #expect(firstSrc != nil && firstSrc == secondSrc)
        #expect(second.summary?.filesUnchanged == first.summary?.files, "every file is reused from the parent without reading")
        #expect(second.parent == first.id?.hex)

        // Insert bytes into the middle of the big file: content-defined chunking resynchronises.
        var big = randomBytes(700_000, seed: 42)
        big.insert(contentsOf: randomBytes(100, seed: 9), at: 350_000)
        try RawFS.write(bytes(source + "/big.bin"), big)
        try RawFS.write(bytes(source + "/added.txt"), bytes("new"))
        _ = unlink(source + "/empty")
        let third = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        let added = third.summary!.bytesAdded
        #expect(added > 0 && added < 200_000, "an insert re-stores only the chunks around it (added \(added) of 700 kB)")

        var changes: [Difference] = []
        try await Differ(repository: repo).diff(second.treeID!, third.treeID!, into: &changes)
        let byPath = Dictionary(changes.map { ($0.displayPath, $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath[source + "/big.bin"] == .modified)
        #expect(byPath[source + "/added.txt"] == .added)
        #expect(byPath[source + "/empty"] == .removed)
        #expect(!byPath.keys.contains(source + "/small.txt"))
    }

    @Test("unchanged folders keep the parent's tree ids; a change deep down renews only the trees on its path, and equals a full re-read")
    func unchangedTreesReused() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        for dir in ["a/deep", "b"] {
            try FileManager.default.createDirectory(atPath: "\(source)/\(dir)", withIntermediateDirectories: true)
            for i in 0..<5 { try RawFS.write(bytes("\(source)/\(dir)/f\(i)"), randomBytes(3000 + i, seed: UInt64(i))) }
        }
        let repo = try await makeRepository(store: try StoreFactory.open(tmp.file("repo"), create: true))
        func tree(_ snap: Snapshot, _ path: String) async throws -> BlobID? {
            try await SnapshotBrowser(repository: repo, snapshot: snap).entry(at: bytes(source + path)).tree
        }
        let first = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        try RawFS.write(bytes(source + "/a/deep/f2"), randomBytes(4000, seed: 77))
        let second = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        #expect(try await tree(second, "/b") == (try await tree(first, "/b")))
        #expect(try await tree(second, "/a/deep") != (try await tree(first, "/a/deep")))
        #expect(try await tree(second, "/a") != (try await tree(first, "/a")))
        #expect(try await tree(second, "") != (try await tree(first, "")))

        // A full re-read (no reuse of anything) encodes the very same trees.
        var full = BackupOptions(paths: [source])
        full.forceReread = true
        let third = try await Archiver(repository: repo, options: full).run().snapshot
        for path in ["", "/a", "/a/deep", "/b"] { #expect(try await tree(third, path) == (try await tree(second, path)), "\(path)") }
        let restored = tmp.file("out")
        let browser = SnapshotBrowser(repository: repo, snapshot: second)
        _ = try await Restorer(repository: repo, options: RestoreOptions(target: restored)).restore(browser, entry: try await browser.entry(at: bytes(source)))
        #expect(try RawFS.read(bytes(restored + "/a/deep/f2")) == randomBytes(4000, seed: 77))
        #expect(try RawFS.read(bytes(restored + "/b/f4")) == randomBytes(3004, seed: 4))
    }

    @Test("cut points do not depend on the read size: blocks smaller than the largest chunk give the same chunks")
    func readSizeDoesNotMoveCuts() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        mkdir(source, 0o755)
        // Random data (content-defined cuts) and a long zero run (cuts forced at the maximum size).
        try RawFS.write(bytes(source + "/mixed.bin"), randomBytes(3 << 20, seed: 78) + [UInt8](repeating: 0, count: 1 << 20) + randomBytes(1 << 20, seed: 79))
        let repo = try await makeRepository()   // 4 KiB / 16 KiB / 64 KiB chunks
        let trees = try await treesOfFullBackups(repo, source, file: "/mixed.bin",
                                                 variants: [nil, 65_536, 20_000, 5_000, 1_000].map { size in { $0.readSize = size } })
        #expect(trees[0] != nil && Set(trees.map { $0! }).count == 1)
    }

    /// Backs `source` up once per variant of the options, each a full re-read, checks that `file` was
    /// cut into many chunks, and returns the tree id of `source` in each snapshot.
    func treesOfFullBackups(_ repo: Repository, _ source: String, file: String,
                            variants: [(inout BackupOptions) -> Void]) async throws -> [BlobID?] {
        var trees: [BlobID?] = []
        for variant in variants {
            var o = BackupOptions(paths: [source])
            o.forceReread = true
            variant(&o)
            let snap = try await Archiver(repository: repo, options: o).run().snapshot
            let node = try await SnapshotBrowser(repository: repo, snapshot: snap).entry(at: bytes(source + file)).node
            #expect((node?.content.count ?? 0) > 100)
            trees.append(try await SnapshotBrowser(repository: repo, snapshot: snap).entry(at: bytes(source)).tree)
        }
        return trees
    }

    @Test("the pipeline gives the same chunks with the parallel chunker as with the sequential one")
    func parallelChunkingInPipeline() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        mkdir(source, 0o755)
        try RawFS.write(bytes(source + "/large.bin"), randomBytes(9 << 20, seed: 77))   // several 4 MiB+ blocks
        let repo = try await makeRepository()
        let trees = try await treesOfFullBackups(repo, source, file: "/large.bin",
                                                 variants: [false, true].map { parallel in { $0.parallelChunking = parallel } })
        #expect(trees[0] != nil && trees[0] == trees[1])
    }

    @Test("excludes skip matching names and paths; include restores only what matches")
    func excludeInclude() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        try makeTrickyTree(source, xattrs: false)
        let repo = try await makeRepository()
        var options = BackupOptions(paths: [source])
        options.excludes = ["*.log", source + "/sub/deeper"]
        let snap = try await Archiver(repository: repo, options: options).run().snapshot
        let browser = SnapshotBrowser(repository: repo, snapshot: snap)
        await #expect(throws: KuraError.self) { try await browser.entry(at: bytes(source + "/text.log")) }
        await #expect(throws: KuraError.self) { try await browser.entry(at: bytes(source + "/sub/deeper")) }
        _ = try await browser.entry(at: bytes(source + "/sub/hard-c"))

        let target = tmp.file("only-txt")
        var ro = RestoreOptions(target: target)
        ro.includes = ["*.txt"]
        let r = try await Restorer(repository: repo, options: ro).restore(browser, entry: try await browser.entry(at: [47]))
        #expect(r.errors.isEmpty)
        let restored = try survey(target).entries.filter { $0.value.kind == .regular }.keys.map { PathBytes.display($0) }
        #expect(Set(restored.map { String($0.split(separator: "/").last!) }) == ["small.txt", "蔵.txt"])
    }

    @Test("a subfolder restores its contents into the target; a single file restores to target/NAME")
    func partialRestore() async throws {
        let tmp = try TemporaryFolder("kura-test")
        let source = tmp.file("src")
        try makeTrickyTree(source, xattrs: false)
        let repo = try await makeRepository()
        let snap = try await Archiver(repository: repo, options: BackupOptions(paths: [source])).run().snapshot
        let browser = SnapshotBrowser(repository: repo, snapshot: snap)
        _ = try await Restorer(repository: repo, options: RestoreOptions(target: tmp.file("sub"))).restore(browser, entry: try await browser.entry(at: bytes(source + "/sub")))
        #expect((try? RawFS.read(bytes(tmp.file("sub/deeper/setuid")))) == bytes("#!/bin/sh\n"))
        _ = try await Restorer(repository: repo, options: RestoreOptions(target: tmp.file("one"))).restore(browser, entry: try await browser.entry(at: bytes(source + "/big.bin")))
        #expect((try? RawFS.read(bytes(tmp.file("one/big.bin")))) == randomBytes(700_000, seed: 42))
    }

    @Test("a command's output is stored as one file; a failing command saves no snapshot")
    func commandSource() async throws {
        let repo = try await makeRepository()
        let ok = try await Archiver(repository: repo, options: BackupOptions(paths: []))
            .runCommand(["/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' 'k'; echo done"], filename: "dump.sql")
        #expect(ok.snapshot.paths == ["/dump.sql"])
        #expect(ok.snapshot.source == "command")
        let node = try await SnapshotBrowser(repository: repo, snapshot: ok.snapshot).entry(at: bytes("/dump.sql")).node!
        var out: [UInt8] = []
        try await ContentStreamer(repository: repo).stream(node.content) { out += $0 }
        #expect(out.count == 300_005 && out.suffix(5) == bytes("done\n"))

        do {
            _ = try await Archiver(repository: repo, options: BackupOptions(paths: [])).runCommand(["/bin/sh", "-c", "echo partial; exit 3"], filename: "x.sql")
            Issue.record("a failing command saved a snapshot")
        } catch let e as KuraError {
            #expect(e.code == .commandFailed && e.message.contains("status 3"))
        }
        do {
            _ = try await Archiver(repository: repo, options: BackupOptions(paths: [])).runCommand(["/bin/sh", "-c", "kill -9 $$"], filename: "x.sql")
            Issue.record("a killed command saved a snapshot")
        } catch let e as KuraError {
            #expect(e.code == .commandFailed && e.message.contains("signal"))
        }
        #expect(try await repo.listSnapshots().count == 1)
    }

    @Test("a path that does not exist fails before anything is saved")
    func missingPath() async throws {
        let repo = try await makeRepository()
        await #expect(throws: KuraError.self) { try await Archiver(repository: repo, options: BackupOptions(paths: ["/nonexistent/kura/path"])).run() }
        #expect(try await repo.listSnapshots().isEmpty)
    }
}
