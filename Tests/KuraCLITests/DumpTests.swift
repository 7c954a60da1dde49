import Foundation
import KuraTestSupport
import Testing

@Suite("kura dump into the real tar")
struct DumpTests {
    /// Names `tar -t` prints for the sample tree under `top` (folders with a trailing "/").
    private func expectedListing(_ scan: TreeScan, top: String) -> Set<String> {
        var names: Set<String> = [top + "/"]
        for (path, entry) in scan {
            let name = top + "/" + String(decoding: path, as: UTF8.self)
            names.insert(entry.kind == .directory ? name + "/" : name)
        }
        return names
    }

    @Test(arguments: ["tar", "tar.gz"])
    func dumpOfAFolderExtractsToTheSameTree(format: String) async throws {
        try await withRepository("dump-\(format)") { s in
            let src = try makeSampleTree(at: s.path("src"))
            let before = try scanTree(src)
            try await s.backup([src])
            let gz = format == "tar.gz"

            // List through a pipe.
            let listed = try await s.pipe(kura: ["dump", "latest:\(src)", "--format", format], into: "tar", [gz ? "-tzf" : "-tf", "-"])
            #expect(listed.kura.status == 0, "\(listed.kura)")
            #expect(listed.consumer.status == 0, "\(listed.consumer)")
            let names = Set(listed.consumer.out.split(separator: "\n").map(String.init))
            // Non-UTF-8 names are compared separately (tar prints them with its own quoting).
            let utf8Names = names.filter { !$0.hasPrefix("src/caf") }
            let expected = expectedListing(before.filter { String(validating: $0.key, as: UTF8.self) != nil }, top: "src")
            #expect(utf8Names == expected, "extra: \(utf8Names.subtracting(expected)); missing: \(expected.subtracting(utf8Names))")
            #expect(names.count == expected.count + 1, "\(names.sorted())")

            // Extract through a pipe and compare byte for byte, with modes and file times.
            let out = s.path("extracted")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let extracted = try await s.pipe(kura: ["dump", "latest:\(src)", "--format", format],
                                             into: "tar", [gz ? "-xzf" : "-xf", "-", "-C", out])
            #expect(extracted.kura.status == 0, "\(extracted.kura)")
            #expect(extracted.consumer.status == 0, "\(extracted.consumer)")
            let problems = treeDifferences(expected: before, actual: try scanTree(out + "/src"))
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            var a = stat(), b = stat()
            #expect(lstat(out + "/src/hard-a", &a) == 0 && lstat(out + "/src/hard-b", &b) == 0)
            #expect(a.st_ino == b.st_ino, "hard link lost in the archive")
        }
    }

    @Test func dumpFormatsAndSingleFiles() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])

            // tar.gz really is gzip; tar is a ustar/pax archive.
            let gz = try await s.kuraOK(["dump", "latest:\(src)/docs", "--format", "tar.gz"])
            #expect(Array(gz.stdout.prefix(2)) == [0x1F, 0x8B], "not gzip")
            let tar = try await s.kuraOK(["dump", "latest:\(src)/docs"])  // tar is the default
            #expect(tar.stdout.count % 512 == 0 && tar.stdout.count > 1024, "\(tar.stdout.count) bytes")
            #expect(tar.stdout.count >= 512 && String(decoding: tar.stdout[257..<262], as: UTF8.self) == "ustar", "no ustar magic")

            // One file: an archive holding just that file, under its own name.
            let one = try await s.pipe(kura: ["dump", "latest:\(src)/data/big.bin"], into: "tar", ["-tvf", "-"])
            #expect(one.kura.status == 0 && one.consumer.status == 0, "\(one.kura)\n\(one.consumer)")
            let lines = one.consumer.out.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasSuffix(" big.bin") && lines[0].contains("2500000"), "\(one.consumer.out)")

            // The whole snapshot: paths start at the top folder, without a leading "/".
            let all = try await s.pipe(kura: ["dump", "latest"], into: "tar", ["-tf", "-"])
            #expect(all.consumer.status == 0, "\(all.consumer)")
            let relative = String(src.dropFirst())
            #expect(all.consumer.out.split(separator: "\n").contains { $0 == "\(relative)/docs/readme.txt" }, "\(all.consumer.out.prefix(500))")

            // An unknown format is refused and writes nothing: a usage error (exit 64, issue 10).
            let zip = try await s.kura(["dump", "latest:\(src)", "--format", "zip"])
            #expect(zip.status == 64, "\(zip)")
            #expect(zip.stdout.isEmpty)
            #expect(zip.err.contains("unknown format"), "\(zip)")

            // A path that is not in the snapshot.
            let missing = try await s.kura(["dump", "latest:\(src)/nope"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.stdout.isEmpty)
            #expect(missing.err.contains("is not in snapshot"), "\(missing)")
        }
    }

    @Test func longNamesSurviveTheArchive() async throws {
        try await withRepository { s in
            let src = s.path("src")
            let longDir = String(repeating: "d", count: 120)
            let longName = String(repeating: "f", count: 200) + ".txt"
            try writeText("\(src)/\(longDir)/\(longName)", "deep and long\n")
            try await s.backup([src])
            let out = s.path("x")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let r = try await s.pipe(kura: ["dump", "latest:\(src)"], into: "tar", ["-xf", "-", "-C", out])
            #expect(r.kura.status == 0 && r.consumer.status == 0, "\(r.kura)\n\(r.consumer)")
            #expect(try String(contentsOfFile: "\(out)/src/\(longDir)/\(longName)", encoding: .utf8) == "deep and long\n")
        }
    }
}
