import Foundation
import KuraRepository

/// The Prometheus text exposition format (version 0.0.4) of an ``Overview``: the one renderer behind
/// `kura serve`'s `/metrics` and the file `kura run --textfile` writes for node_exporter's textfile
/// collector. Names follow Prometheus conventions (base units, `_seconds`, `_bytes`, timestamps as
/// `_timestamp_seconds`); the labels are `source` (a name from kura.toml) and, for offsite copies,
/// `target` (an `[[offsite]]` name), so cardinality stays at one series per source (and target).
/// Every metric is documented in docs/metrics.md.
public enum MetricsText {
    /// The content type of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// One metric family: HELP, TYPE and its samples.
    struct Family {
        var name: String
        var help: String
        var type = "gauge"
        var samples: [(labels: [(String, String)], value: Double)] = []
    }

    /// Renders the overview. Series whose value is unknown (a source that never ran has no last result)
    /// are left out, except the last success time, which is 0 for a source that never succeeded, so that
    /// an alert on its age fires.
    public static func render(_ o: Overview) -> String {
        func f(_ name: String, _ help: String, _ values: [(Overview.Source, Double?)]) -> Family {
            Family(name: name, help: help, samples: values.compactMap { s, v in v.map { ([("source", s.status.name)], $0) } })
        }
        func t(_ d: Date?) -> Double? { d.map(\.timeIntervalSince1970) }
        func b(_ x: Bool?) -> Double? { x.map { $0 ? 1 : 0 } }
        let src = o.sources
        var families: [Family] = [
            f("kura_source_last_success_timestamp_seconds", "When the source last backed up successfully (Unix time; 0: never).",
              src.map { ($0, t($0.status.lastSuccess) ?? 0) }),
            f("kura_source_last_run_timestamp_seconds", "When the source's last run started (Unix time).", src.map { ($0, t($0.status.lastRun)) }),
            f("kura_source_last_run_success", "1 if the source's last run succeeded, 0 if it failed (absent: never ran).",
              src.map { ($0, $0.status.lastResult == "never" ? nil : ($0.status.lastResult == "success" ? 1 : 0)) }),
            f("kura_source_last_run_duration_seconds", "How long the source's last run took.", src.map { ($0, $0.status.lastDurationSeconds) }),
            f("kura_source_late", "1 if a scheduled source has no success within its schedule plus the grace period.",
              src.map { ($0, b($0.late)) }),
            f("kura_source_late_since_timestamp_seconds", "When a late source became late: its last success plus one schedule interval plus its grace (Unix time).",
              src.map { ($0, t($0.status.lateSince)) }),
            f("kura_source_next_run_timestamp_seconds", "When the source is next due by its schedule (Unix time).", src.map { ($0, t($0.status.nextRun)) }),
            f("kura_source_bytes_added", "Bytes the source's newest backup added to the repository (compressed, encrypted).",
              src.map { ($0, $0.lastBytesAdded.map { Double($0) }) }),
            f("kura_source_snapshots", "Snapshots of the source retained in the repository.", src.map { ($0, $0.status.snapshotCount.map { Double($0) }) }),
            f("kura_source_stored_bytes", "Bytes the source's retained snapshots added to the repository, summed.",
              src.map { ($0, $0.status.storedBytes.map { Double($0) }) }),
            f("kura_source_latest_snapshot_bytes", "Logical size of the source's newest snapshot.", src.map { ($0, $0.status.latestSize.map { Double($0) }) }),
            f("kura_source_dedup_ratio", "Logical bytes of the retained snapshots divided by the bytes they stored.",
              src.map { ($0, $0.dedupRatio) }),
            f("kura_check_success", "1 if the last integrity check after the source's run passed, 0 if it found damage.",
              src.map { ($0, $0.status.lastCheckResult.map { $0.hasPrefix("ok") ? 1 : 0 }) }),
            f("kura_check_timestamp_seconds", "When the last integrity check after the source's run ran (Unix time).", src.map { ($0, t($0.status.lastCheck)) }),
            f("kura_verify_restore_success", "1 if the last verified restore of the source read everything back, 0 if it failed.",
              src.map { ($0, $0.status.lastVerifiedRestoreResult.map { $0.hasPrefix("ok") ? 1 : 0 }) }),
            f("kura_verify_restore_timestamp_seconds", "When the source's last verified restore ran (Unix time).",
              src.map { ($0, t($0.status.lastVerifiedRestore)) }),
        ]
        // Offsite targets ([[offsite]]): one series per source and target.
        func offsite(_ name: String, _ help: String, _ value: (StatusReport.OffsiteStatus) -> Double?) -> Family {
            Family(name: name, help: help, samples: src.flatMap { s in
                s.status.offsite.compactMap { o in value(o).map { ([("source", s.status.name), ("target", o.target)], $0) } }
            })
        }
        families += [
            offsite("kura_offsite_last_copy_success", "1 if the last copy of the source to the offsite target succeeded, 0 if it failed.") {
                $0.lastResult == "never" ? nil : ($0.lastResult == "success" ? 1 : 0)
            },
            offsite("kura_offsite_last_copy_timestamp_seconds", "When the source was last copied (or tried) to the offsite target (Unix time).") {
                t($0.lastAttempt)
            },
            offsite("kura_offsite_lag_seconds", "Age of the newest snapshot of the source the offsite target holds.") { $0.lagSeconds },
            offsite("kura_offsite_snapshots_behind", "Snapshots of the source newer than the newest copy on the offsite target.") {
                $0.behind.map { Double($0) }
            },
        ]
        // WAL archiving (postgres sources with wal-archive): how old the newest archived segment is.
        families += [
            f("kura_wal_last_archived_age_seconds", "Age of the newest archived WAL segment of the source (the archive lag as the repository sees it).",
              src.map { ($0, $0.status.wal?.lastArchivedAgeSeconds) }),
            f("kura_wal_continuous", "1 if point-in-time recovery from the oldest base backup to the newest segment is possible (no gap).",
              src.map { ($0, $0.status.wal.map { $0.continuous ? 1 : 0 }) }),
            f("kura_wal_gaps", "Missing WAL segment ranges between the oldest base backup and the newest segment.",
              src.map { ($0, $0.status.wal.map { Double($0.gaps.count) }) }),
        ]
        func single(_ name: String, _ help: String, _ v: Double?) {
            families.append(Family(name: name, help: help, samples: v.map { [([], $0)] } ?? []))
        }
        single("kura_repository_up", "1 if the repository could be opened and its snapshots listed.", o.repositoryError == nil ? 1 : 0)
        single("kura_repository_snapshots", "Snapshots in the repository (every host).", o.storage.snapshots.map { Double($0) })
        single("kura_repository_logical_bytes", "Logical bytes of every snapshot (what restoring all of them would write).",
               o.storage.logicalBytes.map { Double($0) })
        single("kura_repository_stored_bytes", "Bytes the repository's blobs take in packs (compressed, encrypted).", o.storage.storedBytes.map { Double($0) })
        single("kura_repository_free_bytes", "Free bytes on the file system holding a local repository.", o.storage.freeBytes.map { Double($0) })
        single("kura_repository_filesystem_bytes", "Size of the file system holding a local repository.", o.storage.fileSystemBytes.map { Double($0) })
        single("kura_repository_growth_bytes_per_day", "Bytes stored per day, averaged over the last 14 days.", o.storage.growthBytesPerDay)
        single("kura_repository_days_until_full", "Free bytes divided by the daily growth.", o.storage.daysUntilFull)
        single("kura_last_gc_timestamp_seconds", "When kura run last collected garbage (Unix time).", t(o.lastGC))
        single("kura_run_in_progress", "1 while a kura run holds the run lock.", o.running ? 1 : 0)
        single("kura_healthy", "1 if kura status says healthy (no failed or late source, repository and state usable).", o.healthy ? 1 : 0)
        single("kura_metrics_generated_timestamp_seconds", "When these metrics were computed (Unix time).", o.generatedAt.timeIntervalSince1970)

        var out = ""
        for family in families where !family.samples.isEmpty {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n# TYPE \(family.name) \(family.type)\n"
            for s in family.samples {
                let labels = s.labels.isEmpty ? "" : "{" + s.labels.map { "\($0)=\"\(escapeLabel($1))\"" }.joined(separator: ",") + "}"
                out += "\(family.name)\(labels) \(format(s.value))\n"
            }
        }
        return out
    }

    /// A sample value: integers without a fraction, others in full precision.
    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// Label values escape `\`, `"` and line feeds (the format's rule).
    static func escapeLabel(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// HELP text escapes `\` and line feeds.
    static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

extension Runner {
    /// Writes the metrics of the current overview to `path` for node_exporter's textfile collector:
    /// atomically (a temporary file beside it, then rename), mode 0644 so the exporter's user can read it.
    public func writeMetricsTextfile(_ path: String, repository: Repository?, openError: String? = nil) async throws {
        let text = MetricsText.render(await overview(repository: repository, openError: openError))
        try AtomicFile.write(Array(text.utf8), to: path, mode: 0o644, what: "the metrics textfile")
    }
}
