import Foundation
import KuraPostgres
import KuraTestSupport
import Testing

extension PostgresTests {
    /// The children of `parent` and their children (live processes only), with their argv and environment.
    static func descendants(of parent: pid_t) -> [(pid: pid_t, cmdline: String, environ: String, direct: Bool)] {
        var parents: [pid_t: pid_t] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 1, fields[0] != "Z", let ppid = pid_t(fields[1]) else { continue }
            parents[pid] = ppid
        }
        func descends(_ pid: pid_t) -> Bool {
            var p = pid, hops = 0
            while let up = parents[p], hops < 64 { if up == parent { return true }; p = up; hops += 1 }
            return false
        }
        return parents.keys.filter(descends).map { pid in
            let read = { (f: String) in String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/\(f)") ?? Data(), as: UTF8.self) }
            return (pid, read("cmdline").replacingOccurrences(of: "\0", with: " "), read("environ"), parents[pid] == parent)
        }
    }

    /// A pg_dump that hangs (a shim on PATH with pg_dump's name, which answers --version like the real
    /// one and otherwise waits forever, with kura's argv and environment): while it waits, no child of
    /// kura has the password on its command line (it is in the child's environment as PGPASSWORD), and
    /// SIGTERM to kura ends kura and the hanging pg_dump (and its own children) within seconds (exit 143).
    /// (A real pg_dump waiting for an ACCESS EXCLUSIVE lock cannot be arranged here: kura's own
    /// measuring transaction takes ACCESS SHARE on the tables first, so the lock would wait for kura.)
    @Test func waitingPgDumpDiesWithKuraAndNeverShowsThePassword() async throws {
        let db = try PG.createDatabase("childproc")
        defer { PG.dropDatabase(db) }
        try PG.sql(db, "CREATE TABLE locked AS SELECT i FROM generate_series(1, 1000) i")
        let secret = "Pw-\(UUID().uuidString.prefix(12))"
        // Trust authentication ignores the password; what matters is where kura puts it.
        let dsn = try PG.dsn(db).adding(["password": secret]).conninfo

        try await withScratch { s in
            try await s.kuraOK(["init", "-q"])
            let path = try Self.pgDumpShim(s.root, failure: """
                sleep 600 &
                wait
                """)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: KuraBinary.path)
            p.arguments = ["backup", "--postgres", dsn, "--repo", s.repo]
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KURA_") }
            env["KURA_PASSWORD"] = s.password
            env["KURA_CACHE_DIR"] = s.root + "/cache"
            env["PATH"] = path
            p.environment = env
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
            let kura = p.processIdentifier

            var seen: [(pid: pid_t, cmdline: String, environ: String, direct: Bool)] = []
            let deadline = Date().addingTimeInterval(30)
            // The dump itself, not the `pg_dump --version` kura runs first.
            // kura's own child (not the shim's short-lived forks, which share its command line).
            let isDump = { (c: (pid: pid_t, cmdline: String, environ: String, direct: Bool)) in
                c.direct && c.cmdline.contains("pg_dump ") && !c.cmdline.contains("--version")
            }
            while Date() < deadline, !seen.contains(where: isDump) {
                seen = Self.descendants(of: kura)
                for child in seen { #expect(!child.cmdline.contains(secret), "the password is on a command line: \(child.cmdline)") }
                try await Task.sleep(for: .milliseconds(20))
            }
            let dump = try #require(seen.first(where: isDump), "pg_dump never started: \(seen.map(\.cmdline))")
            var sleeper: pid_t?
            for _ in 0..<100 where sleeper == nil {
                sleeper = Self.descendants(of: kura).first { $0.cmdline.hasPrefix("sleep 600") }?.pid
                if sleeper == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(!dump.cmdline.contains(secret))
            #expect(dump.environ.contains("PGPASSWORD=\(secret)"), "the password reaches pg_dump through its environment")
            #expect(!dump.environ.contains("KURA_PASSWORD"))
            #expect(kill(dump.pid, 0) == 0, "pg_dump should be waiting: \(dump.cmdline); now: \(Self.descendants(of: kura).map(\.cmdline))")

            let stopped = Date()
            kill(kura, SIGTERM)
            while p.isRunning, Date().timeIntervalSince(stopped) < 20 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!p.isRunning && p.terminationStatus == 143, "kura: running \(p.isRunning), status \(p.isRunning ? -1 : p.terminationStatus)")
            #expect(Date().timeIntervalSince(stopped) < 10)
            for pid in [dump.pid] + (sleeper.map { [$0] } ?? []) {
                var gone = false
                for _ in 0..<100 where !gone {
                    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
                    gone = stat.isEmpty || stat.contains(") Z ")
                    if !gone { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(gone, "process \(pid) (pg_dump or its child) outlived kura")
            }
            #expect(sleeper != nil, "the shim's child was not seen")
        }
    }
}
