import Foundation
import KuraTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// kill -9 during `restore`: what the killed restore was writing must not be left behind as a stray
/// temporary file, and the next restore into the same folder completes and matches.
@Suite("fault injection: kill -9 during restore")
struct FaultKillRestoreTests {
    /// Every entry under `root` whose name starts with `.kura-restore-` (a named temporary file).
    func leftovers(_ root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        return walker.compactMap { $0 as? String }.filter { ($0 as NSString).lastPathComponent.hasPrefix(".kura-restore-") }
    }

    /// The seconds since a condition was first seen true (0 before).
    final class SeenAt: @unchecked Sendable {
        private var first: Date?
        func elapsed(once condition: Bool) -> Double {
            if first == nil, condition { first = Date() }
            return first.map { Date().timeIntervalSince($0) } ?? -1
        }
    }

    @Test func aKilledRestoreLeavesNoTemporaryFiles() async throws {
        try await withFaultSandbox { s in
            try await s.kuraOK(["init", "-q"])
            let src = s.path("src")
            try FileManager.default.createDirectory(atPath: src + "/media", withIntermediateDirectories: true)
            var expected: [String: [UInt8]] = [:]
            for i in 0..<8 {
                let bytes = randomBytes(6 << 20, seed: UInt64(100 + i))
                try Data(bytes).write(to: URL(fileURLWithPath: "\(src)/media/file-\(i).bin"))
                expected["media/file-\(i).bin"] = bytes
            }
            try await s.kuraOK(["backup", "-q", src])

            // A normal restore, timed: the kills land inside it.
            let timing = try FaultChild.kura(s, ["restore", "-q", "latest:\(src)", "--target", s.path("timed")])
            let normal = timing.result(await timing.wait())
            try #require(normal.status == 0, "\(normal)")
            let duration = (timing.finished ?? Date()).timeIntervalSince(timing.started)

            let target = s.path("restored")
            var killed = 0
            for trial in 0..<4 {
                let child = try FaultChild.kura(s, ["restore", "-q", "latest:\(src)", "--target", target])
                // Killed while it writes: a little after the restore created the folder of the files.
                let delay = 0.02 + 0.05 * Double(trial)
                let seen = SeenAt()
                if await child.kill9(when: { seen.elapsed(once: FileManager.default.fileExists(atPath: target + "/media")) >= delay }, timeout: 60) { killed += 1 }
                _ = await child.wait()
                #expect(leftovers(target).isEmpty, "trial \(trial): a killed restore left \(leftovers(target))")
                try? FileManager.default.removeItem(atPath: target)
            }
            #expect(killed > 0, "no restore was killed before it ended (normal run: \(duration) s)")

            // The next restore into the same folder completes, and every file is whole.
            try await s.kuraOK(["restore", "-q", "latest:\(src)", "--target", target])
            #expect(leftovers(target).isEmpty)
            for (rel, bytes) in expected {
                let got = FileManager.default.contents(atPath: "\(target)/\(rel)").map { [UInt8]($0) }
                #expect(got == bytes, "\(rel) differs after the restore that followed the kills")
            }
        }
    }
}
