import Foundation
import KuraStore
import Testing

@Suite("S3 Object Lock options")
struct S3ObjectLockTests {
    @Test("retain-until is upload time + retention in UTC, whole seconds rounded up; exempt prefixes get none; limits")
    func retainUntilAndExemptions() throws {
        let lock = S3ObjectLock(mode: .compliance, retentionSeconds: 30 * 86400, exemptPrefixes: ["locks/"])
        // 2026-01-01T00:00:00.25Z + 30 days
        #expect(lock.retainUntil(now: Date(timeIntervalSince1970: 1_767_225_600.25)) == "2026-01-31T00:00:01Z")
        #expect(lock.applies(to: "data/ab/abcdef") && lock.applies(to: "snapshots/00") && !lock.applies(to: "locks/0123"))
        #expect(S3ObjectLock.Mode(parsing: "Compliance") == .compliance && S3ObjectLock.Mode(parsing: "governance") == .governance)
        #expect(S3ObjectLock.Mode(parsing: "legal-hold") == nil)
        #expect(try S3ObjectLock.validate(seconds: 86400.5, what: "x") == 86401)
        #expect(throws: (any Error).self) { try S3ObjectLock.validate(seconds: 0, what: "x") }
        #expect(throws: (any Error).self) { try S3ObjectLock.validate(seconds: Double(S3ObjectLock.maximumSeconds) + 1, what: "x") }
    }
}
