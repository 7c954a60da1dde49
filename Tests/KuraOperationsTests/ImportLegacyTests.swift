import Foundation
import KuraCompression
import KuraOperations
import KuraRepository
import KuraTar
import Testing
import KuraTestSupport

@Suite("import-legacy")
struct ImportLegacyTests {
    /// Writes `bytes` gzip-compressed to `path` and sets its mtime.
    func gzip(_ path: String, _ bytes: [UInt8], mtime: Date) throws {
        var out: [UInt8] = []
        let w = GzipWriter { out += $0 }
        try w.write(bytes)
        try w.finish()
        try Data(out).write(to: URL(fileURLWithPath: path))
        setMtime(path, mtime)
    }

    func setMtime(_ path: String, _ date: Date) {
        let secs = Int(date.timeIntervalSince1970)
        var times = [timespec(tv_sec: secs, tv_nsec: 0), timespec(tv_sec: secs, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    struct Member { var path: String; var kind: TarEntry.Kind = .file; var contents: [UInt8] = []; var mode: UInt32? = nil; var link = ""; var mtime: Int64 = 1_700_000_000; var uid: UInt32 = 0 }

    func tar(_ members: [Member]) throws -> [UInt8] {
        var out: [UInt8] = []
        let w = TarWriter { out += $0 }
        for m in members {
            try w.writeHeader(TarEntry(path: Array(m.path.utf8), kind: m.kind, mode: m.mode, uid: m.uid, gid: m.uid, userName: m.uid == 0 ? "root" : "app",
                                       groupName: m.uid == 0 ? "root" : "app", modificationTime: (m.mtime, 0),
                                       size: m.kind == .file ? Int64(m.contents.count) : 0, linkTarget: Array(m.link.utf8)))
            if m.kind == .file { try w.writeContents(m.contents) }
            try w.finishEntry()
        }
        try w.finish()
        return out
    }

    /// Reads a file of a snapshot back through the repository.
    func read(_ repo: Repository, _ snapshot: Snapshot, _ path: String) async throws -> (Node, [UInt8]) {
        var tree = try await repo.loadTree(try #require(snapshot.treeID))
        let parts = path.split(separator: "/").map { Array($0.utf8) }
        var node: Node?
        for (i, p) in parts.enumerated() {
            let found: Node = try #require(tree.node(named: p), "\(path): no \(String(decoding: p, as: UTF8.self))")
            node = found
            if i < parts.count - 1 { tree = try await repo.loadTree(try #require(node?.subtree)) }
        }
        let n = try #require(node)
        var bytes: [UInt8] = []
        for e in n.content { if let id = e.id { bytes += try await repo.loadBlob(id, verifyHash: true) } else { bytes += [UInt8](repeating: 0, count: Int(e.length)) } }
        return (n, bytes)
    }

    @Test func dumpsAndArchivesBecomeSnapshotsWithTheirTimes() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        let config = try s.writeConfig(s.header + """
        [docker]
        root = "\(s.path("docker"))"
        socket = "\(s.path("no-docker.sock"))"

        [[source]]
        name = "db"
        type = "postgres"
        dsn = "postgresql://backup@localhost/postgres"
        databases = ["app"]
        keep = { daily = 7 }

        [[source]]
        name = "volumes"
        type = "docker-volume"
        volume = "media"
        keep = { daily = 14 }
        """)
        let old = s.path("old")
        try FileManager.default.createDirectory(atPath: old + "/volumes", withIntermediateDirectories: true)
        let sql1 = Array((0..<30_000).map { "INSERT INTO t VALUES (\($0));\n" }.joined().utf8)
        let sql2 = sql1 + Array("INSERT INTO t VALUES (-1);\n".utf8)
        let now = Date()
        try gzip(old + "/app_2025-03-01_1700.sql.gz", sql1, mtime: now)
        try gzip(old + "/app_2025-03-02_1700.sql.gz", sql2, mtime: now)
        let christmas = utc(2024, 12, 24, 10, 0)
        try gzip(old + "/nightly.sql.gz", Array("SELECT 1;\n".utf8), mtime: christmas)
        let photo = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let archive = try tar([
            Member(path: "./", kind: .directory, mode: 0o750, uid: 1000),
            Member(path: "./photos", kind: .directory, mode: 0o755, uid: 1000),
            Member(path: "./photos/a.jpg", contents: photo, mode: 0o640, mtime: 1_735_000_000, uid: 1000),
            Member(path: "./photos/b.jpg", kind: .hardLink, link: "./photos/a.jpg", uid: 1000),
            Member(path: "./latest", kind: .symlink, link: "photos/a.jpg"),
            Member(path: "./config.json", contents: Array("{\"v\":1}\n".utf8), mode: 0o600, mtime: 1_735_000_123),
        ])
        try gzip(old + "/volumes/media-20250302.tar.gz", archive, mtime: local("Europe/Berlin", 2025, 3, 2, 18, 30))
        try gzip(old + "/volumes/media-20250309.tar.gz", archive, mtime: now)
        try Data("not a backup".utf8).write(to: URL(fileURLWithPath: old + "/README.txt"))

        let repo = try await s.openRepository()
        let importer = LegacyImporter(repository: repo, config: config, host: "legacy-host")
        let plan = try importer.plan(directory: old, source: nil, targetPath: nil)
        #expect(plan.map { ($0.file as NSString).lastPathComponent } == ["nightly.sql.gz", "app_2025-03-01_1700.sql.gz", "app_2025-03-02_1700.sql.gz",
                                                                         "media-20250302.tar.gz", "media-20250309.tar.gz"], "oldest first")
        let items = try await importer.run(plan)
        #expect(items.allSatisfy { $0.snapshot != nil && $0.skipped == nil })

        let snaps = try await repo.listSnapshots()
        #expect(snaps.count == 5 && snaps.allSatisfy { $0.host == "legacy-host" && $0.tags.contains("imported") })
        // Times: from the name (Berlin time), else the mtime; a date-only name takes the mtime when it is that day.
        #expect(snaps.map(\.date) == [christmas, local("Europe/Berlin", 2025, 3, 1, 17, 0), local("Europe/Berlin", 2025, 3, 2, 17, 0),
                                      local("Europe/Berlin", 2025, 3, 2, 18, 30), local("Europe/Berlin", 2025, 3, 9, 0, 0)])
        #expect(snaps[0].paths == ["/nightly.sql"] && snaps[0].tags.filter { !$0.hasPrefix("legacy-sha256:") } == ["imported"], "no source matches 'nightly'")
        #expect(snaps[1].paths == ["/postgres/app.sql"] && snaps[1].tags.filter { !$0.hasPrefix("legacy-sha256:") } == ["imported", "source:db"] && snaps[1].source == "postgres")
        let (dumpNode, dump) = try await read(repo, snaps[2], "/postgres/app.sql")
        #expect(dump == sql2 && dumpNode.size == UInt64(sql2.count))
        #expect((snaps[2].summary?.bytesAdded ?? .max) < UInt64(sql2.count) / 2, "the second dump dedups against the first")

        let volume = s.path("docker") + "/volumes/media/_data"
        #expect(snaps[3].paths == [volume] && snaps[3].tags.filter { !$0.hasPrefix("legacy-sha256:") } == ["imported", "source:volumes"] && snaps[3].source == "directory")
        #expect(snaps[3].summary?.files == 3 && snaps[3].summary?.directories == 1)
        let (a, aBytes) = try await read(repo, snaps[3], volume + "/photos/a.jpg")
        #expect(aBytes == photo && a.mode == 0o640 && a.uid == 1000 && a.user == "app" && a.mtime.seconds == 1_735_000_000)
        let (b, bBytes) = try await read(repo, snaps[3], volume + "/photos/b.jpg")
        #expect(bBytes == photo && b.inode == a.inode && a.links == 2 && b.links == 2, "hard links stay linked")
        let (link, _) = try await read(repo, snaps[3], volume + "/latest")
        #expect(link.type == .symlink && link.linkTarget == Array("photos/a.jpg".utf8))
        let (cfg, cfgBytes) = try await read(repo, snaps[3], volume + "/config.json")
        #expect(cfgBytes == Array("{\"v\":1}\n".utf8) && cfg.mode == 0o600)
        // The archive's root folder keeps its metadata; the folders above it are synthetic.
        var tree = try await repo.loadTree(try #require(snaps[3].treeID))
        for part in volume.split(separator: "/").dropLast() { tree = try await repo.loadTree(try #require(tree.node(named: Array(part.utf8))?.subtree)) }
        let dataDir = try #require(tree.node(named: Array("_data".utf8)))
        #expect(dataDir.mode == 0o750 && dataDir.uid == 1000)
        let (data4, _) = try await read(repo, snaps[4], volume)
        #expect(data4.subtree == dataDir.subtree, "the same archive gives the same tree (only the synthetic folders above differ)")

        // Importing again changes nothing.
        let again = try await importer.run(try importer.plan(directory: old, source: nil, targetPath: nil))
        #expect(again.allSatisfy { $0.skipped != nil })
        #expect(try await repo.listSnapshots().count == 5)
    }

    @Test func fileNameTimes() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let mtime = utc(2020, 1, 1)
        func parse(_ name: String) -> (String, Date, Bool) {
            let p = LegacyImporter.parseNameForTesting(name, timeZone: berlin, mtime: mtime)
            return (p.name, p.time, p.fromName)
        }
        #expect(parse("app_2025-03-01_1700.sql.gz") == ("app", local("Europe/Berlin", 2025, 3, 1, 17, 0), true))
        #expect(parse("media-20250301T173000.tar.gz") == ("media", local("Europe/Berlin", 2025, 3, 1, 17, 30), true))
        #expect(parse("db.2025-03-01.sql.gz") == ("db", local("Europe/Berlin", 2025, 3, 1), true))
        #expect(parse("2025-03-01_17-45_uploads.tgz") == ("uploads", local("Europe/Berlin", 2025, 3, 1, 17, 45), true))
        #expect(parse("backup-final.sql.gz") == ("backup-final", mtime, false))
        #expect(parse("app_2025-02-30.sql.gz").2 == false, "no 30 February")
    }

    @Test func theCommandLine() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try s.writeConfig(s.header + """
        [[source]]
        name = "db"
        type = "command"
        command = "pg_dump app"
        """)
        try FileManager.default.createDirectory(atPath: s.path("old"), withIntermediateDirectories: true)
        try gzip(s.path("old/app-2025-01-05-0300.sql.gz"), Array("dump\n".utf8), mtime: Date())
        let dry = try await s.kura(["import-legacy", s.path("old"), "--source", "db", "--dry-run", "--config", s.configPath])
        #expect(dry.status == 0 && dry.out.contains("would import as /app.sql") && dry.out.contains("1 files would be imported"), "\(dry)")
        let r = try await s.kura(["import-legacy", s.path("old"), "--source", "db", "--config", s.configPath, "--json"])
        #expect(r.status == 0, "\(r)")
        let items = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]], "\(r)")
        #expect(items.count == 1 && items[0]["source"] as? String == "db" && items[0]["timeFrom"] as? String == "name" && items[0]["snapshot"] is String)
        let snaps = try await s.openRepository().listSnapshots()
        #expect(snaps.count == 1 && snaps[0].tags.prefix(2) == ["imported", "source:db"] && snaps[0].date == local("Europe/Berlin", 2025, 1, 5, 3, 0))
        // The content is recorded (issue 10): the SHA-256 of the imported .sql.gz, as a tag.
        let sha = try #require(snaps.first?.tags.first { $0.hasPrefix("legacy-sha256:") })
        #expect(sha.count == "legacy-sha256:".count + 64)
        let unknown = try await s.kura(["import-legacy", s.path("old"), "--source", "nope", "--config", s.configPath])
        #expect(unknown.status == 1 && unknown.err.contains("no source named \"nope\""), "\(unknown)")
    }
}
