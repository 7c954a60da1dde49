import Foundation
import KuraRepository
import KuraStore
import KuraTestSupport
import Testing

/// Names that could leave a restore's target: from a hostile archive brought in by import-legacy,
/// and from a tree written by a hostile tool straight into the repository.
@Suite("names that climb out of the target")
struct PathTraversalTests {
    /// Nothing may appear outside the sandbox's target: `escape` is where a "../" entry would land.
    func assertNothingEscaped(_ escape: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!FileManager.default.fileExists(atPath: escape), "a restore wrote outside its target: \(escape)", sourceLocation: sourceLocation)
    }

    @Test("import-legacy refuses '..' members and keeps absolute ones below the import folder; restore and dump stay inside")
    func hostileArchive() async throws {
        try await withRepository { s in
            let legacy = s.path("legacy")
            try FileManager.default.createDirectory(atPath: legacy, withIntermediateDirectories: true)
            // A tar.gz with a member that climbs out, an absolute one and a normal one (Python's tarfile writes them as given).
            let archive = legacy + "/files_2024-03-04.tar.gz"
            let py = try await faultPython(s, """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w:gz") as t:
                for name, data in [("../../../../../\(s.path("escaped").dropFirst())/PWNED", b"owned"), ("/abs/etc-file", b"abs"), ("ok/file.txt", b"fine")]:
                    info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
            """, [archive])
            try #require(py.status == 0, "\(py)")
            let cfg = s.path("kura.toml")
            try """
            repository = "\(s.repo)"
            password-file = "\(try s.passwordFile())"
            state-dir = "\(s.path("state"))"
            [[source]]
            name = "files"
            type = "directory"
            paths = ["\(s.path("src"))"]
            schedule = "0 3 * * *"
            """.write(toFile: cfg, atomically: true, encoding: .utf8)
            chmod(cfg, 0o600)
            let imported = try await s.kura(["import-legacy", legacy, "--config", cfg, "--source", "files"])
            #expect(imported.status == 0, "\(imported)")
            #expect(imported.err.contains("refused the member") && imported.err.contains("absolute name"), "\(imported)")
            let ls = try await s.kura(["ls", "latest"])
            #expect(ls.status == 0 && !ls.out.contains(".."), "\(ls)")
            #expect(ls.out.contains("ok/file.txt") && ls.out.contains("abs/etc-file"), "\(ls)")
            #expect(try await s.kura(["check", "--read-data"]).status == 0)
            let target = s.path("target")
            let restore = try await s.kura(["restore", "latest", "--target", target])
            #expect(restore.status == 0, "\(restore)")
            assertNothingEscaped(s.path("escaped/PWNED"))
            let dump = try await s.kura(["dump", "latest", "--format", "tar"])
            #expect(dump.status == 0 && !dump.out.contains("../"), "\(dump.err)")
        }
    }

    @Test("a tree holding '..' or 'a/b' names (written by a hostile tool) is damage: check reports it, restore and dump write nothing outside")
    func hostileTree() async throws {
        try await withRepository { s in
            let repo = try await Repository.open(store: try StoreFactory.open(s.repo), password: Array(s.password.utf8))
            // Trees encoded by hand, around Repository.saveTree's own refusal.
            try await repo.withLock(.shared) { _ in
                var file = Node(name: Array("PWNED".utf8), type: .file)
                file.mode = 0o644
                let payload = try await repo.saveBlob(.data, Array("owned\n".utf8))
                file.content = [Extent(chunk: payload.id, length: 6)]
                file.size = 6
                var evil = Node(name: Array("..".utf8), type: .directory)
                evil.mode = 0o755
                evil.subtree = try await repo.saveBlob(.tree, Tree(nodes: [file]).encoded()).id
                var slashed = file
                slashed.name = Array("x/../../PWNED2".utf8)
                let root = try await repo.saveBlob(.tree, Tree(nodes: [evil, slashed]).encoded()).id
                try await repo.flush()
                _ = try await repo.saveSnapshot(Snapshot(time: Date(), host: "h", username: "u", paths: ["/"], tree: root, program: "hostile"))
            }
            let check = try await s.kura(["check"])
            #expect(check.status != 0 && check.out.contains("not a single path component"), "check found nothing: \(check)")
            let target = s.path("deep/target")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let restore = try await s.kura(["restore", "latest", "--target", target])
            #expect(restore.status != 0, "\(restore)")
            assertNothingEscaped(s.path("deep/PWNED"))
            assertNothingEscaped(s.path("PWNED2"))
            assertNothingEscaped(s.path("deep/PWNED2"))
            let dump = try await s.kura(["dump", "latest", "--format", "tar"])
            #expect(dump.status != 0 && !dump.out.contains("../"), "\(dump.err)")
        }
    }
}
