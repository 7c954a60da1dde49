import Foundation
import KuraArchiver
import KuraChecker
import KuraMaintenance
import KuraRepository
import Testing

@Suite("forget")
struct ForgetterTests {
    @Test("a policy is applied per host+paths group; a dry run removes nothing; forget + gc frees the data")
    func groupsAndGC() async throws {
        let f = try await Fixture()
        try f.write("a", count: 3, size: 50_000, seed: 60)
        var snaps: [Snapshot] = []
        for day in 0..<4 {
            var o = BackupOptions(paths: [f.root + "/src"])
            o.time = Date(timeIntervalSince1970: 1_700_000_000 + Double(day) * 86_400)
            try f.write("day\(day)", count: 1, size: 80_000, seed: 70 + UInt64(day))
            snaps.append(try await Archiver(repository: f.repository, options: o).run().snapshot)
        }
        // Another host: its own group, untouched by keep-last 1 of the first.
        var other = BackupOptions(paths: [f.root + "/src"])
        other.host = "elsewhere"
        other.time = Date(timeIntervalSince1970: 1_700_000_000)
        let foreign = try await Archiver(repository: f.repository, options: other).run().snapshot

        let policy = RetentionPolicy(last: 1)
        let dry = try await Forgetter(repository: f.repository).run(policy: policy, dryRun: true)
        #expect(dry.count == 2)
        #expect(try await f.repository.listSnapshots().count == 5)
        let done = try await Forgetter(repository: f.repository).run(policy: policy, dryRun: false)
        let mine = try #require(done.first { $0.group.contains("host=\(Host.name)") })
        #expect(mine.keep.map(\.id) == [snaps[3].id!.hex])
        #expect(mine.keep[0].reasons.contains { $0.contains("last") })
        #expect(Set(mine.remove.map(\.id)) == Set(snaps[0..<3].map { $0.id!.hex }))
        let left = try await f.repository.listSnapshots().map(\.id)
        #expect(Set(left) == Set([snaps[3].id, foreign.id]))

        await #expect(throws: KuraError.self) { try await Forgetter(repository: f.repository).run(policy: RetentionPolicy(), dryRun: true) }
        #expect(throws: KuraError.self) { try SnapshotGrouping.parse("host,color") }
    }
}
