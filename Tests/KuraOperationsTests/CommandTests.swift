import Foundation
import KuraOperations
import Testing
import KuraTestSupport

@Suite("status and schedule commands")
struct CommandTests {
    func config(_ s: OpsSandbox) throws {
        try s.write("src/a.txt", "a\n")
        try s.writeConfig(s.header + """
        [[source]]
        name = "files"
        type = "directory"
        paths = ["\(s.path("src"))"]
        schedule = "0 17 * * *"
        keep = { daily = 7 }
        check = { read-data-subset = "1/7", verify-restore = "monthly" }

        [[source]]
        name = "broken"
        type = "command"
        command = "exit 3"
        schedule = ["30 17 * * sun", "45 17 * * mon-sat"]
        """ + s.sendmailChannel)
    }

    @Test func statusJSON() async throws {
        let s = try OpsSandbox()
        try await s.initRepository()
        try config(s)
        let run = try await s.kura(["run", "--config", s.configPath, "--json"])
        #expect(run.status == 1, "broken fails: \(run)")
        let outcome = try #require(try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any], "\(run)")
        #expect((outcome["results"] as? [[String: Any]])?.count == 2)

        let r = try await s.kura(["status", "--config", s.configPath, "--json"])
        #expect(r.status == 0, "\(r)")
        let status = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r)")
        for key in ["host", "repository", "config", "timeZone", "generatedAt", "running", "sources", "healthy", "lastGC"] where key != "lastGC" {
            #expect(status[key] != nil, "status lacks \(key): \(status.keys.sorted())")
        }
        #expect(status["healthy"] as? Bool == false && status["running"] as? Bool == false && status["timeZone"] as? String == "Europe/Berlin")
        #expect(status["repository"] as? String == s.repo)
        let sources = try #require(status["sources"] as? [[String: Any]])
        #expect(sources.map { $0["name"] as? String } == ["files", "broken"])
        let files = sources[0], broken = sources[1]
        for key in ["name", "type", "schedule", "lastResult", "lastRun", "lastDurationSeconds", "lastSnapshot", "snapshotCount", "storedBytes",
                    "latestSize", "nextRun", "due", "lastCheck", "lastCheckResult", "lastVerifiedRestore", "lastVerifiedRestoreResult"] {
            #expect(files[key] != nil, "files status lacks \(key): \(files.keys.sorted())")
        }
        #expect(files["lastResult"] as? String == "success" && files["snapshotCount"] as? Int == 1 && files["type"] as? String == "directory")
        #expect((files["storedBytes"] as? Int ?? 0) > 0 && files["due"] as? Bool == false)
        #expect((files["lastCheckResult"] as? String)?.hasPrefix("ok") == true && (files["lastVerifiedRestoreResult"] as? String)?.hasPrefix("ok") == true)
        #expect(broken["lastResult"] as? String == "failure" && (broken["lastError"] as? String)?.contains("exited with status 3") == true, "\(broken)")
        #expect(broken["snapshotCount"] as? Int == 0 && (broken["schedule"] as? [String])?.count == 2)
        // Dates are ISO 8601, and the next run is in the future.
        let iso = ISO8601DateFormatter()
        let next = try #require((files["nextRun"] as? String).flatMap { iso.date(from: $0) })
        #expect(next > Date())

        // Without the password the repository columns are null and the reason is given.
        try Data("wrong\n".utf8).write(to: URL(fileURLWithPath: s.passwordFile))
        let noRepo = try await s.kura(["status", "--config", s.configPath, "--json"])
        let st2 = try #require(try JSONSerialization.jsonObject(with: Data(noRepo.out.utf8)) as? [String: Any], "\(noRepo)")
        #expect(st2["repositoryError"] is String && st2["healthy"] as? Bool == false)
        #expect((st2["sources"] as? [[String: Any]])?.first?["snapshotCount"] == nil || (st2["sources"] as? [[String: Any]])?.first?["snapshotCount"] is NSNull)
        #expect((st2["sources"] as? [[String: Any]])?.first?["lastResult"] as? String == "success", "still from the state file")
        let text = try await s.kura(["status", "--config", s.configPath])
        #expect(text.status == 0 && text.out.contains("files") && text.out.contains("failure"), "\(text)")
    }

    @Test func scheduleInstallDryRunForCronAndSystemd() async throws {
        let s = try OpsSandbox()
        try config(s)
        let cron = try await s.kura(["schedule", "install", "--cron", "--dry-run", "--config", s.configPath, "--executable", "/usr/local/bin/kura"])
        #expect(cron.status == 0, "\(cron)")
        #expect(cron.out.contains("# ---- /etc/cron.d/kura"), "\(cron.out)")
        #expect(cron.out.contains("* * * * * root /usr/local/bin/kura run --due --quiet --config \(s.configPath)\n"), "\(cron.out)")
        #expect(cron.out.contains("#   files (directory): \"0 17 * * *\""), "\(cron.out)")
        #expect(cron.out.contains("#   broken (command): \"30 17 * * sun\", \"45 17 * * mon-sat\""), "\(cron.out)")
        #expect(cron.out.contains("time zone Europe/Berlin"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/cron.d/kura") || (try? String(contentsOfFile: "/etc/cron.d/kura", encoding: .utf8))?.contains(s.configPath) != true, "dry run writes nothing")

        let sd = try await s.kura(["schedule", "install", "--systemd", "--dry-run", "--config", s.configPath, "--executable", "/usr/local/bin/kura", "--dir", s.path("units")])
        #expect(sd.status == 0, "\(sd)")
        #expect(sd.out.contains("# ---- \(s.path("units"))/kura.service") && sd.out.contains("# ---- \(s.path("units"))/kura.timer"), "\(sd.out)")
        #expect(sd.out.contains("Type=oneshot\nExecStart=/usr/local/bin/kura run --due --quiet --config \(s.configPath)\n"), "\(sd.out)")
        #expect(sd.out.contains("OnCalendar=*-*-* *:*:00\n") && sd.out.contains("Unit=kura.service") && sd.out.contains("WantedBy=timers.target"), "\(sd.out)")
        #expect(!FileManager.default.fileExists(atPath: s.path("units")), "dry run writes nothing")

        // A real install into a folder, as JSON.
        let real = try await s.kura(["schedule", "install", "--systemd", "--config", s.configPath, "--executable", "/usr/local/bin/kura", "--dir", s.path("units"), "--json"])
        #expect(real.status == 0, "\(real)")
        let timer = try String(contentsOfFile: s.path("units/kura.timer"), encoding: .utf8)
        #expect(timer.contains("OnCalendar=*-*-* *:*:00"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(real.out.utf8)) as? [String: Any])
        #expect((json["files"] as? [[String: Any]])?.count == 2 && (json["next"] as? String)?.contains("systemctl enable --now kura.timer") == true)

        let show = try await s.kura(["schedule", "show", "--config", s.configPath, "--json", "--count", "2"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(show.out.utf8)) as? [[String: Any]], "\(show)")
        #expect(entries.count == 2 && (entries[0]["next"] as? [String])?.count == 2)
    }
}
