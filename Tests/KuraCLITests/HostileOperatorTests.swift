import Foundation
import KuraTestSupport
import Testing

/// Defects a hostile operator found (issue 10), each tried the way the operator did.
@Suite("a hostile operator's findings")
struct HostileOperatorTests {
    @Test("gc refuses while any snapshot cannot be read, names it and the way out, and deletes nothing")
    func gcRefusesOnAnUnreadableSnapshot() async throws {
        try await withRepository { s in
            let src = try makeSampleTree(at: s.path("src"))
            try await s.backup([src])
            try writeText(src + "/new.txt", String(repeating: "new data ", count: 5000))
            try await s.backup([src])
            let snaps = faultObjects(s.repo, "snapshots")
            try #require(snaps.count == 2)
            let victim = snaps[0]
            try FaultDamage.truncate(s.repo + "/" + victim, to: 20)
            let packsBefore = faultObjects(s.repo, "data")
            let gc = try await s.kura(["gc"])
            #expect(gc.status == 1, "\(gc)")
            let id = String(victim.split(separator: "/").last!)
            #expect(gc.err.contains(String(id.prefix(8))) && gc.err.contains("kura forget"), "\(gc)")
            #expect(faultObjects(s.repo, "data") == packsBefore, "gc deleted packs")
            // The way out: forget the lost snapshot by id; then gc runs.
            #expect(try await s.kura(["forget", String(id.prefix(8))]).status == 0)
            #expect(try await s.kura(["gc"]).status == 0)
            #expect(try await s.kura(["check", "--read-data"]).status == 0)
        }
    }
}
