import Foundation
import KuraRepository
import KuraRestorer

/// Where point-in-time recovery stops.
public enum RecoveryTarget: Sendable, Equatable {
    /// Replay every archived WAL file (the newest state the archive holds).
    case latest
    /// Stop before the first transaction that committed after this time.
    case time(Date)
    /// Stop at this WAL position.
    case lsn(WALPosition)

    /// Parses `2026-12-01 16:59:30` (local time, or with an offset / `Z`; fractions allowed; `T` allowed).
    public static func parseTime(_ text: String, timeZone: TimeZone = .current) -> Date? {
        let t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "T", with: " ")
        for format in ["yyyy-MM-dd HH:mm:ss.SSSSSSXXXXX", "yyyy-MM-dd HH:mm:ss.SSSXXXXX", "yyyy-MM-dd HH:mm:ssXXXXX", "yyyy-MM-dd HH:mm:ss.SSSSSSX",
                       "yyyy-MM-dd HH:mm:ssX", "yyyy-MM-dd HH:mm:ss.SSSSSS", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm"] {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = timeZone
            f.dateFormat = format
            if let d = f.date(from: t) { return d }
        }
        return nil
    }

    /// The time as PostgreSQL reads it unambiguously (UTC, microseconds).
    static func postgresTime(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSSSS"
        return f.string(from: date) + "+00"
    }
}

/// What `restore-physical --to-…` did.
public struct PointInTimeResult: Sendable, Codable {
    public var snapshot: String
    public var baseFinished: String?
    public var startWAL: String?
    public var restore: PhysicalRestoreResult
    /// The lines appended to postgresql.auto.conf.
    public var settings: [String]
}

/// Point-in-time restore: picks the base backup, lays it out with ``PhysicalRestorer`` and writes the
/// recovery settings (`restore_command` calling `kura wal-fetch`, `recovery_target_*`,
/// `recovery_target_action`) and `recovery.signal`. Starting the server then replays archived WAL.
public struct PointInTimeRestore: Sendable {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    /// Physical snapshots with their manifests, oldest first.
    public func baseBackups() async throws -> [(snapshot: Snapshot, manifest: PhysicalManifest?)] {
        var out: [(Snapshot, PhysicalManifest?)] = []
        for s in try await repository.listSnapshots() where s.source == "postgres-physical" {
            let browser = SnapshotBrowser(repository: repository, snapshot: s)
            let m = try? await ManifestCoding.load(PhysicalManifest.self, path: PhysicalManifest.path, from: browser, what: "a physical PostgreSQL backup")
            out.append((s, m))
        }
        return out
    }

    /// The newest base backup that finished before `target` (for `latest`: the newest one).
    public func chooseBase(for target: RecoveryTarget) async throws -> (snapshot: Snapshot, manifest: PhysicalManifest?) {
        let all = try await baseBackups()
        let fitting = all.filter { (s, m) in
            switch target {
            case .latest: return true
            case .time(let t): return (m?.finished.flatMap(Timestamp.parse) ?? s.date) < t
            case .lsn(let p): return m?.stopLSN.map { $0 <= p } ?? false
            }
        }
        guard let chosen = fitting.last else {
            throw KuraError(.notFound, all.isEmpty ? "the repository has no physical PostgreSQL backup" : "no physical backup finished before the recovery target \(target)",
                            hint: all.isEmpty ? "make one with `kura backup --postgres-physical DSN`" : "choose a later target; the oldest base backup finished \(all.first?.manifest?.finished ?? Timestamp.format(all[0].snapshot.date))")
        }
        return chosen
    }

    /// The recovery settings for postgresql.auto.conf.
    public static func settings(target: RecoveryTarget, action: String, restoreCommand: String) -> [String] {
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        var lines = ["restore_command = \(quote(restoreCommand))", "recovery_target_timeline = 'latest'"]
        switch target {
        case .latest: break
        case .time(let d):
            lines += ["recovery_target_time = \(quote(RecoveryTarget.postgresTime(d)))", "recovery_target_inclusive = on",
                      "recovery_target_action = \(quote(action))"]
        case .lsn(let p):
            lines += ["recovery_target_lsn = \(quote(p.description))", "recovery_target_inclusive = on", "recovery_target_action = \(quote(action))"]
        }
        return lines
    }

    /// Lays out `snapshot` into `target` and prepares it for recovery.
    public func restore(snapshot: Snapshot, manifest: PhysicalManifest?, into target: String, to recovery: RecoveryTarget, action: String,
                        restoreCommand: String, progress: (@Sendable (UInt64) -> Void)? = nil) async throws -> PointInTimeResult {
        guard ["pause", "promote", "shutdown"].contains(action) else {
            throw KuraError(.invalidArgument, "--action must be pause, promote or shutdown, not '\(action)'")
        }
        let result = try await PhysicalRestorer(repository: repository).restore(snapshot: snapshot, target: target, progress: progress)
        let lines = PointInTimeRestore.settings(target: recovery, action: action, restoreCommand: restoreCommand)
        let auto = result.target + "/postgresql.auto.conf"
        var text = (try? String(contentsOfFile: auto, encoding: .utf8)) ?? ""
        if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
        text += "# point-in-time recovery, written by kura restore-physical (remove these lines after recovery)\n" + lines.joined(separator: "\n") + "\n"
        try DurableFile.write(Array(text.utf8), to: auto)
        try DurableFile.write([], to: result.target + "/recovery.signal")
        // As root, give both files the data directory's owner (the server must read them).
        if geteuid() == 0 {
            var st = stat()
            if stat(result.target, &st) == 0 {
                for f in [auto, result.target + "/recovery.signal"] { _ = chown(f, st.st_uid, st.st_gid) }
            }
        }
        return PointInTimeResult(snapshot: snapshot.id?.hex ?? "", baseFinished: manifest?.finished, startWAL: manifest?.startWAL,
                                 restore: result, settings: lines)
    }
}
