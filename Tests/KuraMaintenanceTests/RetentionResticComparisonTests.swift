import Foundation
import KuraMaintenance
import Testing

// Compares applyRetention with the real `restic forget --dry-run --json` on a throwaway restic repository.
// The repository is built once per test run (about 60 snapshots in three groups, made with
// `restic backup --time` in Europe/Berlin and a few other zones) and shared by all cases.
// restic is required: without it these tests fail (`make test-deps` should install it).
// Every case keeps at least one snapshot of every group, since restic 0.17+ refuses to empty a group
// (except where restic 0.14 itself empties them: it ignores -1).

/// The local zone of restic and of the engine's calendar.
private let comparisonZone = "Europe/Berlin"

/// A snapshot to create: `--time` wall clock read in `zone` (the TZ of that restic process), host = group.
private struct PlannedSnapshot: Sendable {
    var time: String
    var tags: [String] = []
    var host = "h"
    var zone = comparisonZone
}

private let plannedSnapshots: [PlannedSnapshot] = [
    // Group "h": two years of irregular snapshots.
    .init(time: "2020-11-15 10:00:00", tags: ["auto"]),
    .init(time: "2020-12-20 10:00:00", tags: ["auto"]),
    .init(time: "2020-12-31 23:59:59", tags: ["auto"]),  // ISO 2020-W53
    .init(time: "2021-01-01 00:00:00", tags: ["auto", "important"]),  // 2020-W53, year 2021
    .init(time: "2021-01-03 23:30:00", tags: ["auto"]),  // Sunday of 2020-W53
    .init(time: "2021-01-04 00:30:00"),  // 2021-W01, untagged
    .init(time: "2021-02-10 12:00:00", tags: ["auto"]),
    .init(time: "2021-03-27 23:30:00", tags: ["auto"]),
    .init(time: "2021-03-28 00:30:00", tags: ["auto"]),  // DST starts at 02:00
    .init(time: "2021-03-28 02:30:00", tags: ["auto"]),  // does not exist: restic records 03:30+02:00
    .init(time: "2021-03-28 03:45:00"),
    .init(time: "2021-04-15 12:00:00", tags: ["important"]),
    .init(time: "2021-06-30 23:59:59", tags: ["auto"]),
    .init(time: "2021-07-01 00:00:00", tags: ["auto"]),
    .init(time: "2021-09-10 12:00:00", tags: ["auto"]),
    .init(time: "2021-10-30 23:30:00", tags: ["auto"]),
    .init(time: "2021-10-31 01:30:00", tags: ["auto"]),  // DST ends at 03:00 CEST
    .init(time: "2021-10-31 02:10:00", tags: ["auto"], zone: "Etc/GMT-2"),  // 02:10 CEST, first pass
    .init(time: "2021-10-31 02:50:00", tags: ["auto"]),  // ambiguous: restic takes 02:50 CET, second pass
    .init(time: "2021-10-31 03:10:00", tags: ["auto"]),
    .init(time: "2021-12-31 12:00:00", tags: ["important", "audit"]),
    .init(time: "2022-01-15 23:30:00", tags: ["auto"], zone: "UTC"),  // recorded "Z": its day is 15 Jan
    .init(time: "2022-01-16 00:45:00", tags: ["auto"]),  // 15 Jan 23:45 UTC, but 16 Jan in Berlin
    .init(time: "2022-02-20 12:00:00", tags: ["auto"]),
    .init(time: "2022-03-15 21:00:00", tags: ["auto"], zone: "America/New_York"),  // -04:00: 16 Mar in Berlin
    .init(time: "2022-03-16 08:00:00", tags: ["auto"]),
    .init(time: "2022-03-27 01:59:59", tags: ["auto"]),
    .init(time: "2022-03-27 03:00:00", tags: ["auto"]),
    .init(time: "2022-04-18 08:00:00"),
    .init(time: "2022-05-31 23:00:00", tags: ["auto"]),
    .init(time: "2022-08-15 12:00:00", tags: ["important"]),
    .init(time: "2022-10-30 02:30:00", tags: ["auto"]),  // ambiguous
    .init(time: "2022-12-31 18:00:00", tags: ["auto"]),  // 2022-W52
    .init(time: "2023-01-01 10:00:00", tags: ["auto"]),  // 2022-W52, year 2023
    .init(time: "2023-01-02 10:00:00", tags: ["auto"]),  // 2023-W01
    .init(time: "2023-06-15 12:00:00", tags: ["important"]),
    .init(time: "2023-12-15 12:00:00", tags: ["auto"]),
    .init(time: "2024-06-15 12:00:00", tags: ["auto"]),
    .init(time: "2024-11-25 12:00:00", tags: ["auto"]),
    .init(time: "2024-12-09 12:00:00", tags: ["auto"]),
    .init(time: "2024-12-23 12:00:00", tags: ["auto"]),
    .init(time: "2024-12-29 23:59:59", tags: ["auto"]),  // Sunday, 2024-W52
    .init(time: "2024-12-30 00:00:00", tags: ["auto"]),  // Monday, 2025-W01, year 2024
    .init(time: "2024-12-31 12:00:00", tags: ["auto", "important"]),  // 2025-W01
    .init(time: "2025-01-01 08:00:00", tags: ["auto"]),
    .init(time: "2025-01-01 08:20:00", tags: ["auto"]),
    .init(time: "2025-01-01 08:40:00"),
    .init(time: "2025-01-01 09:05:00", tags: ["auto"]),
    .init(time: "2025-01-01 10:00:00", tags: ["auto"]),
    .init(time: "2025-01-05 12:00:00", tags: ["auto"]),
    .init(time: "2025-01-06 12:00:00", tags: ["auto"]),
    // Group "f": a future snapshot, and month-end arithmetic (31 March minus 1 month is 2 March).
    .init(time: "2099-06-01 12:00:00", tags: ["auto"], host: "f"),
    .init(time: "2024-03-31 10:00:00", tags: ["auto"], host: "f"),
    .init(time: "2024-03-02 10:30:00", tags: ["auto"], host: "f"),
    .init(time: "2024-03-02 09:30:00", tags: ["important"], host: "f"),
    .init(time: "2024-03-01 12:00:00", tags: ["auto"], host: "f"),
    .init(time: "2024-02-28 12:00:00", host: "f"),
    .init(time: "2023-03-31 12:00:00", tags: ["auto"], host: "f"),
    // Group "d": "2d" across the end of DST is 49 hours.
    .init(time: "2021-11-01 12:00:00", tags: ["auto"], host: "d"),
    .init(time: "2021-10-30 12:30:00", tags: ["auto"], host: "d"),
    .init(time: "2021-10-30 11:30:00", tags: ["important"], host: "d"),
    .init(time: "2021-10-29 12:00:00", host: "d"),
]

/// A policy to compare, with a readable name.
struct ResticComparisonCase: Sendable, CustomTestStringConvertible {
    var name: String
    var policy: RetentionPolicy
    var testDescription: String { name }
}

private func days(_ n: Int) -> RetentionDuration { RetentionDuration(days: n) }

private let comparisonCases: [ResticComparisonCase] = [
    .init(name: "daily 7", policy: .init(daily: 7)),
    .init(name: "daily 7 weekly 4 monthly 12 yearly -1", policy: .init(daily: 7, weekly: 4, monthly: 12, yearly: -1)),
    .init(name: "last 3 hourly 5", policy: .init(last: 3, hourly: 5)),
    .init(name: "within 30d", policy: .init(within: days(30))),
    .init(name: "keep-tag important", policy: .init(tags: [["important"]])),
    .init(name: "weekly 5 (ISO weeks across the year boundary)", policy: .init(weekly: 5)),
    .init(name: "monthly -1", policy: .init(monthly: -1)),
    .init(name: "every period (hourly/daily/weekly/monthly/yearly 1000)",
          policy: .init(hourly: 1000, daily: 1000, weekly: 1000, monthly: 1000, yearly: 1000)),
    .init(name: "within 1m", policy: .init(within: RetentionDuration(months: 1))),
    .init(name: "within 2d", policy: .init(within: days(2))),
    .init(name: "within 48h", policy: .init(within: RetentionDuration(hours: 48))),
    .init(name: "within 1y2m3d4h", policy: .init(within: RetentionDuration(years: 1, months: 2, days: 3, hours: 4))),
    .init(name: "within-hourly 3d within-daily 10d within-weekly 2m within-monthly 1y within-yearly 5y",
          policy: .init(withinHourly: days(3), withinDaily: days(10), withinWeekly: RetentionDuration(months: 2),
                        withinMonthly: RetentionDuration(years: 1), withinYearly: RetentionDuration(years: 5))),
    .init(name: "keep-tag important,audit and keep-tag ''", policy: .init(tags: [["important", "audit"], [""]])),
    .init(name: "last 1 yearly 3 keep-tag important within 2d",
          policy: .init(last: 1, yearly: 3, within: days(2), tags: [["important"]])),
    .init(name: "last 100", policy: .init(last: 100)),
]

@Suite("RetentionPolicy compared with restic forget")
struct RetentionResticComparisonTests {
    @Test("the kept set, its order and the reasons equal restic's forget",
          .timeLimit(.minutes(3)), arguments: comparisonCases)
    func matchesRestic(_ comparison: ResticComparisonCase) async throws {
        let store = ResticFixtureStore.shared
        let fixture = try await store.fixture()
        do {
            try await compare(comparison, fixture)
        } catch {
            await store.finished(total: comparisonCases.count)
            throw error
        }
        await store.finished(total: comparisonCases.count)
    }

    private func compare(_ comparison: ResticComparisonCase, _ fixture: ResticFixture) async throws {
        var arguments = ["forget", "--repo", fixture.repository, "--no-lock", "--dry-run", "--json"]
        arguments += resticFlags(comparison.policy, fixture.compatibility)
        let result = try await fixture.restic(arguments)
        try #require(result.status == 0, "restic \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        guard let line = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("[") }) else {
            Issue.record("no JSON from restic \(arguments.joined(separator: " ")): \(result.stdout) \(result.stderr)")
            return
        }
        let groups = try JSONDecoder().decode([ForgetGroupJSON].self, from: Data(line.utf8))
        #expect(Set(groups.map(\.host)) == Set(fixture.groups.keys), "restic groups the snapshots by host")

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: comparisonZone)!
        for group in groups {
            let candidates = fixture.groups[group.host] ?? []
            let decision = applyRetention(comparison.policy, to: candidates, calendar: calendar, now: Date(),
                                          compatibility: fixture.compatibility)
            // Compared as "shortid@time" labels, so that a failure shows readable times.
            let resticKeep = (group.keep ?? []).map { fixture.label($0.id) }
            let resticRemove = (group.remove ?? []).map { fixture.label($0.id) }
            let context = "\(comparison.name), group \(group.host), \(fixture.version)"
            #expect(decision.kept.map { fixture.label($0.id) } == resticKeep, "kept: \(context)")
            #expect(decision.remove.map { fixture.label($0.id) } == resticRemove, "removed: \(context)")
            let resticReasons = (group.reasons ?? []).map { $0.matches ?? [] }
            if decision.keep.count == resticReasons.count {
                for (kept, reasons) in zip(decision.keep, resticReasons) {
                    #expect(kept.reasons == reasons, "reasons for \(fixture.label(kept.candidate.id)): \(context)")
                }
            } else {
                Issue.record("restic gave \(resticReasons.count) reasons for \(resticKeep.count) kept: \(context)")
            }
        }
    }

    @Test("the fixture really contains the intended time-zone edge cases", .timeLimit(.minutes(3)))
    func fixtureTimes() async throws {
        let store = ResticFixtureStore.shared
        let fixture = try await store.fixture()
        let times = Set(fixture.timeTexts.values)
        await store.finished(total: comparisonCases.count)
        #expect(times.contains("2021-03-28T03:30:00+02:00"), "a --time in the spring-forward gap moves forward")
        #expect(times.contains("2021-10-31T02:10:00+02:00") && times.contains("2021-10-31T02:50:00+01:00"))
        #expect(times.contains("2022-01-15T23:30:00Z") && times.contains("2022-03-15T21:00:00-04:00"))
        #expect(fixture.groups.values.map(\.count).reduce(0, +) == plannedSnapshots.count)
    }
}

/// The `--keep-*` options for a policy; -1 is spelled `unlimited` from restic 0.16 on.
private func resticFlags(_ policy: RetentionPolicy, _ compatibility: ResticCompatibility) -> [String] {
    var flags: [String] = []
    let counts = [("last", policy.last), ("hourly", policy.hourly), ("daily", policy.daily),
                  ("weekly", policy.weekly), ("monthly", policy.monthly), ("yearly", policy.yearly)]
    for (name, count) in counts where count != 0 {
        flags += ["--keep-\(name)", count == -1 && compatibility != .v0_14 ? "unlimited" : "\(count)"]
    }
    let durations = [("within", policy.within), ("within-hourly", policy.withinHourly),
                     ("within-daily", policy.withinDaily), ("within-weekly", policy.withinWeekly),
                     ("within-monthly", policy.withinMonthly), ("within-yearly", policy.withinYearly)]
    for (name, duration) in durations {
        if let duration, !duration.isZero { flags += ["--keep-\(name)", duration.description] }
    }
    for list in policy.tags { flags += ["--keep-tag", list.joined(separator: ",")] }
    return flags
}

// MARK: - restic's JSON

private struct SnapshotJSON: Decodable {
    var id: String?
    var time: String
    var hostname: String?
    var tags: [String]?
}

private struct KeepReasonJSON: Decodable {
    var matches: [String]?
}

private struct ForgetGroupJSON: Decodable {
    var host: String
    var keep: [KeptJSON]?
    var remove: [KeptJSON]?
    var reasons: [KeepReasonJSON]?

    struct KeptJSON: Decodable { var id: String }
}

/// Parses restic's RFC 3339 times (`2021-10-31T02:50:00+01:00`, `…Z`, optional fraction).
private func parseResticTime(_ text: String) -> Date? {
    let characters = Array(text)
    guard characters.count >= 20 else { return nil }
    func number(_ from: Int, _ count: Int) -> Int? { Int(String(characters[from..<(from + count)])) }
    guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
          let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2) else { return nil }
    var index = 19
    var fraction = 0.0
    if characters[index] == "." {
        var digits = "0."
        index += 1
        while index < characters.count, characters[index].isNumber {
            digits.append(characters[index])
            index += 1
        }
        fraction = Double(digits) ?? 0
    }
    var offset = 0
    let zone = String(characters[index...])
    if zone != "Z" {
        guard zone.count == 6, let hours = Int(zone.dropFirst().prefix(2)), let minutes = Int(zone.suffix(2))
        else { return nil }
        offset = (zone.hasPrefix("-") ? -1 : 1) * (hours * 3_600 + minutes * 60)
    }
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = TimeZone(identifier: "UTC")!
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    guard let wall = utc.date(from: components) else { return nil }
    return wall.addingTimeInterval(fraction - Double(offset))
}

// MARK: - The shared repository

/// Why the restic fixture could not be built.
private struct ResticFixtureError: Error, CustomStringConvertible {
    var description: String
}

/// The restic repository every comparison uses.
private struct ResticFixture: Sendable {
    var executable: String
    var directory: URL
    var repository: String
    var environment: [String: String]
    var version: String
    var compatibility: ResticCompatibility
    /// The candidates of each group (host), from `restic snapshots --json`.
    var groups: [String: [RetentionCandidate]]
    /// restic's time text of each snapshot id.
    var timeTexts: [String: String]
    var slots: ProcessSlots

    /// Runs restic with the fixture's environment.
    func restic(_ arguments: [String], zone: String = comparisonZone) async throws -> ProcessOutput {
        var environment = environment
        environment["TZ"] = zone
        return try await slots.run(executable, arguments, environment: environment, directory: directory)
    }

    /// A snapshot's short id and restic's time text, e.g. `1782531a@2025-01-06T12:00:00+01:00`.
    func label(_ id: String) -> String { "\(id.prefix(8))@\(timeTexts[id] ?? "?")" }
}

/// Builds the fixture once and removes it after the last case.
private actor ResticFixtureStore {
    static let shared = ResticFixtureStore()
    private var building: Task<ResticFixture, any Error>?
    private var finishedCount = 0

    func fixture() async throws -> ResticFixture {
        if let building { return try await building.value }
        let task = Task { try await makeResticFixture() }
        building = task
        return try await task.value
    }

    /// Called by every case when done; after the last one (all comparison cases and the fixture check) the
    /// repository is deleted.
    func finished(total: Int) async {
        finishedCount += 1
        guard finishedCount == total + 1, let building, let fixture = try? await building.value else { return }
        try? FileManager.default.removeItem(at: fixture.directory)
    }
}

private func findRestic() -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin"]
    return directories.map { $0 + "/restic" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

private func makeResticFixture() async throws -> ResticFixture {
    guard let executable = findRestic() else {
        throw ResticFixtureError(description: """
            restic is not installed, but the retention tests compare kura with the real `restic forget`: \
            install it (`apt-get install -y restic`; `make test-deps` should do this)
            """)
    }
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("kura-retention-restic-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    do {
        try Data("kura retention test\n".utf8).write(to: directory.appendingPathComponent("data.txt"))
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RESTIC_") }
        environment["RESTIC_PASSWORD"] = "kura-retention-test"
        environment["RESTIC_CACHE_DIR"] = directory.appendingPathComponent("cache").path
        environment["HOME"] = directory.path
        let slots = ProcessSlots(6)

        let versionOutput = try await slots.run(executable, ["version"], environment: environment, directory: directory)
        let version = versionOutput.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard versionOutput.status == 0, let compatibility = ResticCompatibility(resticVersion: version) else {
            throw ResticFixtureError(description: "unsupported or broken restic at \(executable): \(version) \(versionOutput.stderr)")
        }
        var fixture = ResticFixture(executable: executable, directory: directory,
                                    repository: directory.appendingPathComponent("repo").path,
                                    environment: environment, version: version, compatibility: compatibility,
                                    groups: [:], timeTexts: [:], slots: slots)
        let initResult = try await fixture.restic(["init", "--repo", fixture.repository])
        guard initResult.status == 0 else {
            throw ResticFixtureError(description: "restic init failed: \(initResult.stderr)")
        }
        let base = fixture
        try await withThrowingTaskGroup(of: Void.self) { group in
            for planned in plannedSnapshots {
                group.addTask {
                    var arguments = ["backup", "--repo", base.repository, "--quiet", "--time", planned.time,
                                     "--host", planned.host]
                    for tag in planned.tags { arguments += ["--tag", tag] }
                    arguments.append("data.txt")
                    let result = try await base.restic(arguments, zone: planned.zone)
                    guard result.status == 0 else {
                        throw ResticFixtureError(description: "restic backup --time \(planned.time) failed: \(result.stderr)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let listing = try await fixture.restic(["snapshots", "--repo", fixture.repository, "--no-lock", "--json"])
        guard listing.status == 0 else {
            throw ResticFixtureError(description: "restic snapshots failed: \(listing.stderr)")
        }
        let line = listing.stdout.split(separator: "\n").last(where: { $0.hasPrefix("[") }) ?? "[]"
        for snapshot in try JSONDecoder().decode([SnapshotJSON].self, from: Data(line.utf8)) {
            guard let id = snapshot.id, let date = parseResticTime(snapshot.time),
                  let offset = RetentionCandidate.utcOffset(ofTimestamp: snapshot.time) else {
                throw ResticFixtureError(description: "unreadable snapshot in restic's listing: \(snapshot)")
            }
            let candidate = RetentionCandidate(id: id, time: date, tags: snapshot.tags ?? [], utcOffset: offset)
            fixture.groups[snapshot.hostname ?? "", default: []].append(candidate)
            fixture.timeTexts[id] = snapshot.time
        }
        return fixture
    } catch {
        try? FileManager.default.removeItem(at: directory)
        throw error
    }
}

// MARK: - Running processes

/// What a finished process printed.
private struct ProcessOutput: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Limits how many restic processes run at once (a few more than the cores: restic spends much of a backup
/// asleep in its lock check) and runs them without blocking a Swift concurrency thread: output goes to
/// files, and the exit status arrives through the termination handler.
private actor ProcessSlots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    private func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }

    func run(_ executable: String, _ arguments: [String], environment: [String: String],
             directory: URL) async throws -> ProcessOutput {
        await acquire()
        defer { release() }
        let outputs = FileManager.default.temporaryDirectory.appendingPathComponent("kura-retention-\(UUID().uuidString)")
        let stdoutURL = outputs.appendingPathExtension("out")
        let stderrURL = outputs.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: stdoutURL)
            try? FileManager.default.removeItem(at: stderrURL)
        }
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = environment
            process.currentDirectoryURL = directory
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = stdoutHandle
            process.standardError = stderrHandle
            process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try? stdoutHandle.close()
        try? stderrHandle.close()
        return ProcessOutput(status: status,
                             stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
    }
}
