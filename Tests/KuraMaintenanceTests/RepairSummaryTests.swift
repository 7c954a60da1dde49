import Foundation
import KuraMaintenance
import KuraRepository
import KuraStore
import Testing
import KuraTestSupport

/// Issue 10, item 12: a repaired snapshot must not keep the original's size in listings.
@Suite("repair snapshots: the summary")
struct RepairSummaryTests {
    @Test("a repaired snapshot's summary counts what it holds (files, bytes, folders), and the repair added nothing")
    func repairedSummaryIsRecounted() async throws {
        let f = try await Fixture()
        try f.write("s", count: 12, size: 200_000, seed: 77)
        let snap = try await f.backup()
        let original = try #require(snap.summary)
        #expect(original.files == 12 && original.totalBytes == 12 * 200_000)
        let report = try await f.loseADataPackAndRepair()
        let removed = report.removedPaths.count
        try #require(removed > 0 && removed < 12, "\(report.removedPaths)")

        let fixed = try #require(try await f.reopen().listSnapshots().first)
        let summary = try #require(fixed.summary)
        #expect(summary.files == 12 - removed, "\(summary)")
        #expect(summary.totalBytes == UInt64(12 - removed) * 200_000, "\(summary)")
        #expect(summary.directories == original.directories && summary.otherEntries == original.otherEntries, "\(summary) vs \(original)")
        #expect(summary.blobsAdded == 0 && summary.bytesAdded == 0 && summary.bytesStored == 0, "the repair stored no new data: \(summary)")
    }
}
