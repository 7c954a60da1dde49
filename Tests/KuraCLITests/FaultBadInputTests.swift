import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile source trees: unreadable entries, files that change or vanish while read, symlink loops,
/// sockets, FIFOs, device nodes, paths longer than PATH_MAX, a folder of 100,000 files, a 20 GiB
/// sparse file and names that are not UTF-8.
@Suite("fault injection: hostile source trees")
struct FaultBadInputTests {
    /// setpriv arguments that run a command as root without the capabilities that bypass file modes.
    static let withoutDACOverride: [String]? = FaultConfig.setpriv.map { [$0, "--bounding-set", "-dac_override,-dac_read_search"] }

    func lstatOf(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    // MARK: - Unreadable entries

    @Test(.enabled(if: withoutDACOverride != nil, "needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH"))
    func unreadableFilesAndFoldersGiveExit3AndAnIncompleteSnapshot() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/fine.txt", "fine\n")
            try writeText(src + "/closed/inside.txt", "hidden\n")
            try writeText(src + "/secret.txt", "secret\n")
            try writeText(src + "/open/ok.txt", "ok\n")
            chmod(src + "/closed", 0)
            chmod(src + "/secret.txt", 0)
            defer { chmod(src + "/closed", 0o755) }
            var paths = [src]
            if let sysfs = unreadableFileForRoot { paths.append(sysfs) }

            let r = try await faultKura(s, ["backup", "--json"] + paths, wrapper: Self.withoutDACOverride!)
            #expect(r.status == 3, "\(r)")
            let report = try r.jsonObject()
            #expect(report["incomplete"] as? Bool == true, "\(r)")
            let errors = Set((report["errors"] as? [[String: String]] ?? []).compactMap { $0["path"] })
            var expected: Set<String> = [src + "/closed", src + "/secret.txt"]
            if let sysfs = unreadableFileForRoot { expected.insert(sysfs) }
            #expect(errors == expected, "\(r)")

            let list = try await s.snapshots()
            try #require(list.count == 1)
            let snap = try #require(list[0]["snapshot"] as? [String: Any])
            #expect(snap["incomplete"] as? Bool == true, "\(list)")
            #expect(Set((snap["errors"] as? [[String: String]] ?? []).compactMap { $0["path"] }) == expected, "\(list)")
            // What could be read is there.
            #expect(try await s.cat("latest:\(src)/fine.txt") == Data("fine\n".utf8))
            #expect(try await s.cat("latest:\(src)/open/ok.txt") == Data("ok\n".utf8))
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
        }
    }

    // MARK: - Files that change or vanish

    @Test func aFileGrowingWhileReadIsSavedWithAWarning() async throws {
        try await withRepository { s in
            let src = s.path("src")
            let log = src + "/grow.log"
            let original = randomBytes(24_000_000, seed: 5)
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            try RawFS.write(Array(log.utf8), original)
            let stop = s.path("stop-writer")
            let script = s.scratch.appendingPathComponent("writer.py")
            try Data("""
            import os, sys, time
            path, stop = sys.argv[1], sys.argv[2]
            end = time.time() + 60
            with open(path, "ab", buffering=0) as f:
                while not os.path.exists(stop) and time.time() < end:
                    f.write(os.urandom(16384))
                    time.sleep(0.001)
            """.utf8).write(to: script)
            let writer = try FaultChild.spawn(FaultConfig.python, [script.path, log, stop], environment: try s.environment(.none),
                                              stdout: s.scratch.appendingPathComponent("w-out"), stderr: s.scratch.appendingPathComponent("w-err"))
            defer { writer.kill9(); _ = writer.waitBlocking() }
            // Wait until the writer is appending.
            while faultSize(log) == original.count, writer.isRunning { try await Task.sleep(nanoseconds: 5_000_000) }

            let r = try await s.kura(["backup", "--json", src])
            _ = FileManager.default.createFile(atPath: stop, contents: nil)
            _ = await writer.wait(timeout: 30)
            #expect(r.status == 0, "\(r)")
            let report = try r.jsonObject()
            let warnings = report["warnings"] as? [String] ?? []
            #expect(warnings.contains { $0.contains(log) && $0.contains("changed") }, "no warning about the growing file: \(r)")
            // The snapshot has bytes as they were read: a prefix of the file as it is now, at least the original.
            let now = try RawFS.read(Array(log.utf8))
            let saved = try await s.cat("latest:\(log)")
            #expect(saved.count >= original.count && saved.count <= now.count, "saved \(saved.count) bytes; the file had \(original.count), now \(now.count)")
            #expect(saved == Data(now.prefix(saved.count)), "the saved bytes are not what the file held")
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
        }
    }

    @Test func filesVanishingDuringTheBackup() async throws {
        try await withFaultSandbox { s in
            try await s.initRepository()
            let dir = s.path("src/many")
            let count = 2000
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            func content(_ i: Int) -> [UInt8] { randomBytes(1000 + i % 2000, seed: UInt64(9000 + i)) }
            for i in 0..<count { try RawFS.write(Array(String(format: "\(dir)/f%05d", i).utf8), content(i)) }
            // A normal backup, timed, tells how long the deleter should take.
            let started = Date()
            try await s.backup([dir])
            let normal = max(0.3, Date().timeIntervalSince(started))

            let script = s.scratch.appendingPathComponent("deleter.py")
            try Data("""
            import os, random, sys, time
            d, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
            names = sorted(os.listdir(d))
            random.Random(seed).shuffle(names)
            names = names[: len(names) * 2 // 3]
            time.sleep(seconds * 0.15)
            pause = seconds / len(names)
            for n in names:
                os.unlink(os.path.join(d, n))
                time.sleep(pause)
            """.utf8).write(to: script)
            var outcomes: [Int32] = []
            for trial in 0..<2 {
                // Refill, then back up while two thirds of the files are deleted in random order.
                for i in 0..<count where faultSize(String(format: "\(dir)/f%05d", i)) < 0 {
                    try RawFS.write(Array(String(format: "\(dir)/f%05d", i).utf8), content(i))
                }
                let deleter = try FaultChild.spawn(FaultConfig.python, [script.path, dir, String(normal * 1.2), String(FaultConfig.seed % 100_000 + UInt64(trial))],
                                                   environment: try s.environment(.none),
                                                   stdout: s.scratch.appendingPathComponent("d-out-\(trial)"), stderr: s.scratch.appendingPathComponent("d-err-\(trial)"))
                let r = try await s.kura(["backup", "--json", "--force-reread", dir])
                _ = await deleter.wait(timeout: 60)
                outcomes.append(r.status)
                #expect(r.status == 0 || r.status == 3, "trial \(trial): \(r)")
                if r.status == 3 {
                    let errors = ((try? r.jsonObject())?["errors"] as? [[String: String]]) ?? []
                    #expect(errors.allSatisfy { $0["path"]?.hasPrefix(dir + "/") == true }, "trial \(trial): \(r)")
                }
                // Every file the snapshot has is whole and right.
                let target = s.path("restored-\(trial)")
                defer { try? FileManager.default.removeItem(atPath: target) }
                let restore = try await s.kura(["restore", "-q", "latest:\(dir)", "--target", target])
                #expect(restore.status == 0, "trial \(trial): \(restore)")
                var wrong: [String] = []
                for name in (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? [] {
                    guard let i = Int(name.dropFirst()), let bytes = try? RawFS.read(Array((target + "/" + name).utf8)) else { wrong.append(name); continue }
                    if bytes != content(i) { wrong.append(name) }
                }
                #expect(wrong.isEmpty, "trial \(trial): restored files with wrong content: \(wrong.prefix(10))")
            }
            let check = try await s.kura(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
            print("filesVanishingDuringTheBackup: exit codes \(outcomes)")
        }
    }

    // MARK: - Special entries

    @Test func symlinkLoopsAreBackedUpAndRestoredAsSymlinks() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src + "/sub", withIntermediateDirectories: true)
            let links = ["a": "b", "b": "a", "self": "self", "sub/up": "../sub/up", "dangling": "does/not/exist", "dir-loop": "."]
            for (name, target) in links { try FileManager.default.createSymbolicLink(atPath: src + "/" + name, withDestinationPath: target) }
            let r = try await faultKura(s, ["backup", "--json", src], timeout: 60)
            #expect(r.status == 0, "\(r)")
            let ls = try await s.kuraOK(["ls", "--json", "latest:\(src)"]).jsonLines()
            for (name, target) in links {
                let e = ls.first { $0["path"] as? String == src + "/" + name }
                #expect(e?["type"] as? String == "symlink" && e?["linkTarget"] as? String == target, "\(name): \(String(describing: e))")
            }
            let out = s.path("restored")
            let restore = try await faultKura(s, ["restore", "latest:\(src)", "--target", out], timeout: 60)
            #expect(restore.status == 0, "\(restore)")
            for (name, target) in links {
                let st = lstatOf(out + "/" + name)
                #expect(st.map { $0.st_mode & S_IFMT == S_IFLNK } == true, "\(name) is not restored as a symlink")
                #expect(String(decoding: RawFS.readlinkPath(Array((out + "/" + name).utf8)), as: UTF8.self) == target, "\(name)")
            }
        }
    }

    @Test func socketsFIFOsAndDeviceNodes() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try writeText(src + "/plain.txt", "plain\n")
            // A socket bound by a process that is gone; a FIFO nobody writes to; two device nodes.
            let bind = try await faultPython(s, "import socket, sys\nsocket.socket(socket.AF_UNIX).bind(sys.argv[1])\n", [src + "/app.sock"])
            try #require(bind.status == 0, "\(bind)")
            try #require(mkfifo(src + "/pipe", 0o640) == 0)
            let devices = faultRunSync("/usr/bin/env", ["mknod", "-m", "0620", src + "/null-like", "c", "1", "3"]).status == 0
                && faultRunSync("/usr/bin/env", ["mknod", "-m", "0600", src + "/loop-like", "b", "7", "200"]).status == 0
            let original = (sock: lstatOf(src + "/app.sock"), cdev: lstatOf(src + "/null-like"), bdev: lstatOf(src + "/loop-like"))
            try #require(original.sock.map { $0.st_mode & S_IFMT == S_IFSOCK } == true)

            // The FIFO must not make the backup wait for a writer.
            let r = try await faultKura(s, ["backup", "--json", src], timeout: 60)
            #expect(r.status == 0, "the backup did not finish (a FIFO blocks it?): \(r)")
            let ls = try await s.kuraOK(["ls", "--json", "latest:\(src)"]).jsonLines()
            func type(_ name: String) -> String? { ls.first { $0["path"] as? String == src + "/" + name }?["type"] as? String }
            #expect(type("app.sock") != nil, "the socket is not recorded: \(ls)")
            #expect(type("pipe") != nil && type("pipe") != type("plain.txt"), "\(ls)")
            let catFIFO = try await faultKura(s, ["cat", "latest:\(src)/pipe"], timeout: 60)
            #expect(catFIFO.status == 1, "cat of a FIFO: \(catFIFO)")

            let out = s.path("restored")
            let restore = try await faultKura(s, ["restore", "--json", "latest:\(src)", "--target", out], timeout: 60)
            #expect(restore.status == 0, "\(restore)")
            let warnings = (try? restore.jsonObject())?["warnings"] as? [String] ?? []
            #expect(warnings.contains { $0.contains("app.sock") }, "restore does not warn about the skipped socket: \(restore)")
            #expect(lstatOf(out + "/app.sock") == nil, "a socket was restored")
            let fifo = lstatOf(out + "/pipe")
            #expect(fifo.map { $0.st_mode & S_IFMT == S_IFIFO && $0.st_mode & 0o7777 == 0o640 } == true, "the FIFO is not restored as a FIFO with mode 0640")
            #expect(try RawFS.read(Array((out + "/plain.txt").utf8)) == Array("plain\n".utf8))
            if devices {
                for (name, st) in [("null-like", original.cdev), ("loop-like", original.bdev)] {
                    let restored = lstatOf(out + "/" + name)
                    #expect(restored.map { $0.st_mode == st!.st_mode && $0.st_rdev == st!.st_rdev } == true,
                            "\(name): restored mode \(String(restored?.st_mode ?? 0, radix: 8)) rdev \(restored?.st_rdev ?? 0), expected \(String(st!.st_mode, radix: 8)) rdev \(st!.st_rdev)")
                }
            } else {
                Issue.record("mknod failed: device nodes not tested")
            }
        }
    }

    // MARK: - Sizes

    @Test func pathsLongerThanPathMax() async throws {
        try await withRepository { s in
            let src = s.path("deep")
            let out = s.path("restored")
            defer {
                faultRunSync("/bin/rm", ["-rf", src])
                faultRunSync("/bin/rm", ["-rf", out])
            }
            // 200-byte names, nested with mkdir relative to a descriptor, until the path passes 5000 bytes.
            let make = try await faultPython(s, """
            import os, sys
            root = sys.argv[1]
            os.mkdir(root)
            fd = os.open(root, os.O_RDONLY)
            depth, length = 0, len(root)
            while length <= 5000:
                name = "%03d" % depth + "n" * 197
                os.mkdir(name, dir_fd=fd)
                nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd, depth, length = nfd, depth + 1, length + 201
            f = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(f, b"at the bottom\\n")
            os.close(f)
            print(depth)
            """, [src])
            try #require(make.status == 0, "\(make)")
            let depth = Int(make.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            var leaf = src
            for d in 0..<depth { leaf += "/" + String(format: "%03d", d) + String(repeating: "n", count: 197) }
            leaf += "/leaf.txt"
            try #require(leaf.utf8.count > 5000)

            let r = try await s.kura(["backup", "--json", src])
            #expect(r.status == 0, "\(r)")
            let summary = (try? r.jsonObject())?["summary"] as? [String: Any]
            #expect(summary?["files"] as? Int == 1 && summary?["directories"] as? Int == depth + 1, "\(r)")
            let ls = try await s.kuraOK(["ls", "latest:\(src)"])
            #expect(ls.out.split(separator: "\n").contains { $0 == leaf }, "ls does not list the \(leaf.utf8.count)-byte path")
            let cat = try await s.kura(["cat", "latest:\(leaf)"])
            #expect(cat.status == 0 && cat.out == "at the bottom\n", "\(cat)")
            let restore = try await s.kura(["restore", "latest:\(src)", "--target", out])
            #expect(restore.status == 0, "\(restore)")
            let read = try await faultPython(s, """
            import os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY)
            depth = 0
            while True:
                names = os.listdir(fd)
                if names == ["leaf.txt"]:
                    f = os.open("leaf.txt", os.O_RDONLY, dir_fd=fd)
                    sys.stdout.write("%d %s" % (depth, os.read(f, 100).decode()))
                    break
                if len(names) != 1:
                    sys.stdout.write("unexpected %r at depth %d" % (names, depth))
                    break
                nfd = os.open(names[0], os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd, depth = nfd, depth + 1
            """, [out])
            #expect(read.out == "\(depth) at the bottom\n", "restored: \(read)")
        }
    }

    @Test func aFolderWith100000Files() async throws {
        try await withFaultSandbox(size: "2g") { s in
            try await s.initRepository()
            let dir = s.path("src/d")
            let make = try await faultPython(s, """
            import os, sys
            d = sys.argv[1]
            os.makedirs(d)
            for i in range(100000):
                fd = os.open(os.path.join(d, "f%06d" % i), os.O_WRONLY | os.O_CREAT, 0o644)
                os.write(fd, b"%d\\n" % i)
                os.close(fd)
            """, [dir])
            try #require(make.status == 0, "\(make)")
            let started = Date()
            let r = try await s.kura(["backup", "--json", dir])
            let seconds = Date().timeIntervalSince(started)
            #expect(r.status == 0, "\(r)")
            #expect(((try? r.jsonObject())?["summary"] as? [String: Any])?["files"] as? Int == 100_000, "\(r)")
            let ls = try await s.kura(["ls", "latest:\(dir)"])
            #expect(ls.status == 0, "\(ls)")
            let entries = ls.out.split(separator: "\n").filter { $0.hasPrefix(dir + "/") }
            #expect(entries.count == 100_000, "ls lists \(entries.count) entries")
            #expect(try await s.cat("latest:\(dir)/f099999") == Data("99999\n".utf8))
            print("aFolderWith100000Files: backup took \(String(format: "%.1f", seconds)) s")
        }
    }

    @Test func aSparseFileOf20GiB() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            let file = src + "/sparse.img"
            let size: Int64 = 20 << 30
            let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(fd >= 0)
            try #require(ftruncate(fd, off_t(size)) == 0)
            let marks: [(Int64, String)] = [(10 << 30, "middle"), (size - 4, "end!")]
            for (offset, text) in marks { _ = text.withCString { pwrite(fd, $0, text.utf8.count, off_t(offset)) } }
            close(fd)
            guard let st = lstatOf(file), st.st_blocks < 2048 else {
                Issue.record("the file system of \(src) does not keep the file sparse; not tested")
                return
            }

            let started = Date()
            let r = try await s.kura(["backup", "--json", src])
            let seconds = Date().timeIntervalSince(started)
            #expect(r.status == 0, "\(r)")
            #expect(seconds < 20, "backing up a 20 GiB sparse file took \(seconds) s")
            let summary = (try? r.jsonObject())?["summary"] as? [String: Any]
            #expect(summary?["totalBytes"] as? Int == Int(size), "\(r)")
            #expect((summary?["bytesAdded"] as? Int ?? .max) < 1 << 20, "the holes were stored: \(r)")

            let out = s.path("restored")
            let restoreStarted = Date()
            let restore = try await s.kura(["restore", "latest:\(src)", "--target", out])
            #expect(restore.status == 0, "\(restore)")
            #expect(Date().timeIntervalSince(restoreStarted) < 20, "restoring took \(Date().timeIntervalSince(restoreStarted)) s")
            let restored = lstatOf(out + "/sparse.img")
            #expect(restored.map { Int64($0.st_size) } == size, "size \(String(describing: restored?.st_size))")
            #expect(restored.map { $0.st_blocks < 2048 } == true, "the restored file is not sparse: \(restored?.st_blocks ?? -1) blocks")
            let rfd = open(out + "/sparse.img", O_RDONLY)
            defer { if rfd >= 0 { close(rfd) } }
            for (offset, text) in marks {
                var buffer = [UInt8](repeating: 0, count: text.utf8.count)
                _ = pread(rfd, &buffer, buffer.count, off_t(offset))
                #expect(buffer == Array(text.utf8), "at \(offset)")
            }
            // cat streams zeros for the holes (and stops when the reader does).
            let (kura, head) = try await s.pipe(kura: ["cat", "latest:\(file)"], into: "head", ["-c", "1048576"])
            #expect(head.status == 0, "\(head)")
            #expect(head.stdout.count == 1 << 20 && head.stdout.allSatisfy { $0 == 0 }, "cat | head: \(head.stdout.count) bytes, zero: \(head.stdout.allSatisfy { $0 == 0 }); kura: \(kura)")
        }
    }

    // MARK: - Names

    @Test func namesThatAreNotUTF8() async throws {
        try await withRepository { s in
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
            let base = Array(src.utf8) + [47]
            let names: [[UInt8]] = [[0xFF, 0xFE], Array("caf".utf8) + [0xE9], [0xC3, 0x28], [0x80], Array("new\nline".utf8),
                                    Array("tab\tand\u{1}ctl".utf8), [0xED, 0xA0, 0x80], Array("back\\slash".utf8)]
            for (i, name) in names.enumerated() { try RawFS.write(base + name, Array("file \(i)\n".utf8)) }
            let dirName: [UInt8] = [0x64, 0xFF, 0x69, 0x72]
            try RawFS.withPath(base + dirName) { guard mkdir($0, 0o755) == 0 else { throw POSIXError(.EIO) } }
            try RawFS.write(base + dirName + [47] + [0xFE], Array("inside\n".utf8))
            let linked = RawFS.withPath(base + [0x6C, 0xFF]) { link in RawFS.withPath([0xFF, 0xFE]) { target in symlink(target, link) } }
            try #require(linked == 0)

            let r = try await s.kura(["backup", "--json", src])
            #expect(r.status == 0, "\(r)")
            #expect((try? r.jsonObject())?["incomplete"] as? Bool == false, "\(r)")
            let ls = try await s.kura(["ls", "--json", "latest:\(src)"])
            #expect(ls.status == 0 && (try? ls.jsonLines().count) == names.count + 4, "\(ls)")
            let out = s.path("restored")
            let restore = try await s.kura(["restore", "latest:\(src)", "--target", out])
            #expect(restore.status == 0, "\(restore)")
            let differences = treeDifferences(expected: try scanTree(src), actual: try scanTree(out))
            #expect(differences.isEmpty, "\(differences)")
        }
    }
}
