import Foundation
import KuraCore
import KuraProcess
import Testing

// The runner against real processes: large output, input, the error tail, time limits that must end a
// whole process group, the environment filter, signal state inside the child, a missing program.

/// True while a process with this id exists (a zombie counts as gone: it is not running).
private func alive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(close, offsetBy: 2)] != "Z"
}

@Suite struct ProcessRunnerTests {
    @Test func streamsALargeOutputInOrder() async throws {
        // 200 MiB through the pipe, counted and checksummed as it comes, never held whole.
        let command = ChildCommand(["/bin/sh", "-c", "head -c 209715200 /dev/zero | tr '\\0' 'k'"])
        let (counted, result) = try await ProcessRunner.stream(command) { output in
            var n = 0, blocks = 0, bad = 0
            for try await block in output { n += block.count; blocks += 1; bad += block.lazy.filter { $0 != UInt8(ascii: "k") }.count }
            return (n, blocks, bad)
        }
        #expect(result.status == .exited(0))
        #expect(counted.0 == 200 << 20 && counted.2 == 0)
        #expect(counted.1 > 1)
    }

    @Test func slowConsumerHoldsTheChildBack() async throws {
        // The child writes 8 MiB; the consumer takes one block and sleeps: the child must still be
        // blocked on the pipe (it has not exited) while the consumer waits.
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("kura-bp-\(UUID().uuidString)").path
        let command = ChildCommand(["/bin/sh", "-c", "head -c 8388608 /dev/zero; touch \(marker)"])
        let (finishedEarly, result) = try await ProcessRunner.stream(command) { output in
            var it = output.makeAsyncIterator()
            _ = try await it.next()
            try await Task.sleep(for: .milliseconds(500))
            let early = FileManager.default.fileExists(atPath: marker)
            while try await it.next() != nil {}
            return early
        }
        defer { try? FileManager.default.removeItem(atPath: marker) }
        #expect(result.status.succeeded)
        #expect(!finishedEarly)
    }

    @Test func feedsStandardInput() async throws {
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let r1 = try await ProcessRunner.run(ChildCommand(["/bin/cat"]), input: .bytes(bytes))
        #expect(r1.stdout == bytes)
        let r2 = try await ProcessRunner.run(ChildCommand(["wc", "-c"]), input: .producer { writer in
            for _ in 0..<64 { _ = try await writer.write([UInt8](repeating: 7, count: 65536)) }
        })
        #expect(r2.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "\(64 * 65536)")
        // A child that stops reading: nothing crashes (no SIGPIPE), nothing hangs, its status decides.
        // (The writer usually learns it, `write` returning false; when the child's end is noticed
        // first, the runner gives up its input and the remaining writes go nowhere.)
        let r3 = try await ProcessRunner.run(ChildCommand(["/bin/sh", "-c", "head -c 10 >/dev/null"]), input: .producer { writer in
            var accepted = true
            for _ in 0..<1000 where accepted { accepted = try await writer.write([UInt8](repeating: 1, count: 65536)) }
        })
        #expect(r3.status.succeeded)
    }

    @Test func keepsOnlyTheEndOfStandardError() async throws {
        let command = ChildCommand(["/bin/sh", "-c", "i=0; while [ $i -lt 5000 ]; do echo \"line $i\" >&2; i=$((i+1)); done; printf 'last\\033[31m\\r' >&2; exit 3"],
                                   stderrTailBytes: 1024)
        let r = try await ProcessRunner.run(command)
        #expect(r.status == .exited(3))
        #expect(r.stderrTail.count == 1024)
        #expect(r.stderrText.hasSuffix("last\\x1b[31m\\x0d"))
        #expect(!r.stderrText.contains("line 10\n"))
        let error = #expect(throws: KuraError.self) { try r.requireSuccess("testing") }
        #expect(error?.code == .commandFailed)
        #expect(error?.message.contains("sh exited with status 3") == true)
        #expect(error?.message.contains("\u{1b}") == false)
    }

    @Test func timeoutEndsTheWholeGroup() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("kura-grp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        // The background sleep is a grandchild; a shell that ignores SIGTERM needs the SIGKILL.
        let command = ChildCommand(["/bin/sh", "-c", "trap '' TERM; sleep 600 & echo $! > \(pidFile); echo $$ >> \(pidFile); sleep 600"],
                                   timeout: .seconds(1), gracePeriod: .milliseconds(500))
        let started = ContinuousClock.now
        let error = await #expect(throws: KuraError.self) { try await ProcessRunner.run(command) }
        #expect(error?.code == .timedOut)
        // 1 s + 0.5 s; the bound only has to tell it from the 600 s the command would take (the whole
        // suite on 2 cores has been seen to keep the awaiting task waiting for over a minute).
        #expect(ContinuousClock.now - started < .seconds(300))
        let pids = ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
        #expect(pids.count == 2)
        for _ in 0..<50 where pids.contains(where: alive) { try await Task.sleep(for: .milliseconds(100)) }
        for pid in pids { #expect(!alive(pid), "process \(pid) outlived the time limit") }
    }

    @Test func timeoutAlsoEndsAGrandchildThatIgnoresSIGTERM() async throws {
        // The shell ends on SIGTERM at once; its background child ignores SIGTERM and must get SIGKILL.
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("kura-ign-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let command = ChildCommand(["/bin/sh", "-c", "(trap '' TERM; exec sleep 600) & echo $! > \(pidFile); sleep 600"],
                                   timeout: .seconds(1), gracePeriod: .seconds(30))
        let error = await #expect(throws: KuraError.self) { try await ProcessRunner.run(command) }
        #expect(error?.code == .timedOut)
        let pid = pid_t(((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(pid > 0)
        for _ in 0..<50 where alive(pid) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!alive(pid), "the grandchild that ignores SIGTERM outlived the time limit")
    }

    @Test func cancellationEndsTheGroup() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("kura-cancel-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let task = Task { try await ProcessRunner.run(ChildCommand(["/bin/sh", "-c", "sleep 600 & echo $! > \(pidFile); sleep 600"])) }
        for _ in 0..<50 where !FileManager.default.fileExists(atPath: pidFile) { try await Task.sleep(for: .milliseconds(100)) }
        task.cancel()
        _ = try? await task.value
        let pid = pid_t(((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(pid > 0)
        for _ in 0..<50 where alive(pid) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!alive(pid))
    }

    @Test func childrenRunInTheirOwnProcessGroup() async throws {
        let r = try await ProcessRunner.run(ChildCommand(["/bin/sh", "-c", "echo $$; ps -o pgid= -p $$"]))
        let lines = r.stdoutText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count == 2 && lines[0] == lines[1])
        #expect(lines.first != String(getpgrp()))
    }

    @Test func secretsStayOutOfTheEnvironment() async throws {
        setenv("KURA_PASSWORD", "hunter2", 1)
        setenv("KURA_PASSWORD_FILE", "/etc/kura/pw", 1)
        setenv("KURA_PASSWORD_COMMAND", "pass show kura", 1)
        setenv("KURA_NEW_PASSWORD_FILE", "/tmp/new", 1)
        setenv("KURA_REPOSITORY", "/srv/repo", 1)
        defer { for k in ["KURA_PASSWORD", "KURA_PASSWORD_FILE", "KURA_PASSWORD_COMMAND", "KURA_NEW_PASSWORD_FILE", "KURA_REPOSITORY"] { unsetenv(k) } }
        let r = try await ProcessRunner.run(ChildCommand(["/usr/bin/env"], environment: ["PGPASSWORD": "given"]))
        let vars = Set(r.stdoutText.split(separator: "\n").map { String($0.split(separator: "=", maxSplits: 1)[0]) })
        #expect(!vars.contains { $0.hasPrefix("KURA_PASSWORD") })
        #expect(!vars.contains("KURA_NEW_PASSWORD_FILE"))
        #expect(vars.contains("KURA_REPOSITORY") && vars.contains("PATH"))
        #expect(r.stdoutText.contains("PGPASSWORD=given"))
        #expect(!r.stdoutText.contains("hunter2"))
    }

    @Test func childStartsWithNoBlockedOrIgnoredSignals() async throws {
        // What the kura CLI does to itself before any child starts (Termination.installSignalHandlers).
        let old = [SIGINT, SIGTERM, SIGHUP, SIGPIPE].map { ($0, signal($0, SIG_IGN)) }
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        for s in [SIGHUP, SIGINT, SIGTERM] { sigaddset(&blocked, s) }
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer {
            pthread_sigmask(SIG_SETMASK, &previous, nil)
            for (s, h) in old { signal(s, h) }
        }
        let r = try await ProcessRunner.run(ChildCommand(["/bin/grep", "-E", "SigBlk|SigIgn", "/proc/self/status"]))
        let fields = Dictionary(uniqueKeysWithValues: r.stdoutText.split(separator: "\n").map { line -> (String, String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces))
        })
        #expect(fields["SigBlk"] == "0000000000000000")
        // Every signal a program can name (1–31 and the real-time ones from SIGRTMIN = 34) at its
        // default. glibc's posix_spawn itself leaves its two internal signals (32 SIGCANCEL, 33
        // SIGSETXID, which no program can send by name) ignored when the parent handles them; mask those.
        let ignored = UInt64(fields["SigIgn"] ?? "", radix: 16)
        #expect(ignored.map { $0 & ~UInt64(0x1_8000_0000) } == 0, "SigIgn \(fields["SigIgn"] ?? "?")")
    }

    @Test func missingProgramIsNotFound() async throws {
        let e1 = await #expect(throws: KuraError.self) { try await ProcessRunner.run(ChildCommand(["/nonexistent"])) }
        #expect(e1?.code == .notFound)
        #expect(e1?.message == "cannot run /nonexistent: no such file")
        let e2 = await #expect(throws: KuraError.self) { try await ProcessRunner.run(ChildCommand(["kura-no-such-program-x"])) }
        #expect(e2?.code == .notFound)
        #expect(e2?.message.hasPrefix("cannot run kura-no-such-program-x: no such file") == true)
    }

    @Test func signalledChildIsReportedAsSuch() async throws {
        let r = try await ProcessRunner.run(ChildCommand(["/bin/sh", "-c", "kill -KILL $$"]))
        #expect(r.status == .signaled(SIGKILL))
        #expect(r.status.description == "was killed by signal 9 (SIGKILL)")
    }

    @Test func escapingKeepsTextAndShowsControls() {
        #expect(OutputEscaping.escape(Array("plain\ttext\nnext é".utf8)) == "plain\ttext\nnext é")
        #expect(OutputEscaping.escape([0x1b, 0x5b, 0x32, 0x4a, 0x0d, 0x08, 0x7f]) == "\\x1b[2J\\x0d\\x08\\x7f")
        #expect(OutputEscaping.escape(Array("\u{9b}31m".utf8)) == "\\x9b31m")
    }
}
