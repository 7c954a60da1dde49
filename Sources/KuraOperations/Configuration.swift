import Foundation
import KuraMaintenance
import KuraNotify
import KuraStore

/// The operations configuration (`/etc/kura/kura.toml`): one repository, the named sources to back up
/// with their schedules and policies, and the channels that receive run reports.
/// Parsed by ``ConfigurationParser``; every value is checked there, so a `Configuration` is valid.
public struct Configuration: Sendable {
    /// The file it was read from (absolute), or "" for a configuration parsed from a string.
    public var path = ""
    /// Repository folder.
    public var repository = ""
    /// File holding the repository password (first line).
    public var passwordFile: String?
    /// The password itself, inline (a secret: the file must then be readable by its owner only).
    public var password: String?
    /// Host name recorded in snapshots (default: this machine's).
    public var host: String?
    /// The time zone schedules are read in (default: the system's, or $TZ).
    public var timeZone: TimeZone = .current
    /// Where the run state and the run lock live (default $KURA_STATE_DIR, else /var/lib/kura).
    public var stateDirectory: String?
    /// The local index cache (default: as for every command).
    public var cacheDirectory: String?
    public var logFile: String?
    public var logFormat: LogFormat = .text
    public var logLevel: String = "info"
    public var logMaxBytes = 10 << 20
    public var logKeep = 5
    /// `grace`: how long after one schedule interval without a success a source counts as late (default 1 h).
    public var grace: TimeInterval = StatusReport.grace
    /// `metrics-textfile`: where `kura run` writes its metrics for node_exporter's textfile collector
    /// (a `.prom` file; docs/metrics.md); nil: nowhere.
    public var metricsTextfile: String?
    /// How `gc` follows `forget` in runs.
    public var gc = GCPolicy()
    public var docker = DockerSettings()
    public var sources: [SourceConfig] = []
    public var notify: [NotifyConfig] = []
    /// `[[offsite]]`: named copy targets that sources send their new snapshots to (`offsite = "NAME"`).
    public var offsite: [OffsiteTarget] = []
    /// `s3-endpoint`, `s3-region`, `s3-profile`, `s3-credentials-file`: how the repository and the
    /// offsite targets in S3 are reached.
    public var s3 = S3Settings()
    /// `wal-spool`: local folder where `wal-push` keeps WAL while the repository is unreachable.
    public var walSpool: String?
    /// `wal-spool-max`: the spool's limit; beyond it `wal-push` fails (PostgreSQL keeps the WAL).
    public var walSpoolMaxBytes: UInt64 = 2 << 30
    /// `keep-wal`: how far back point-in-time recovery must stay possible (seconds); nil: from the oldest kept base backup.
    public var keepWALSeconds: Double?
    /// Where each key was found, for error messages that point at it.
    public var locations = TOMLLocations()

    public init() {}

    public enum LogFormat: String, Sendable, Codable { case text, json }

    public func source(named name: String) -> SourceConfig? { sources.first { $0.name == name } }

    /// True when the file holds a secret inline (a password, a DSN or webhook URL with credentials,
    /// webhook headers): then it must not be readable by group or others.
    public var secretKeys: [String] {
        var keys: [String] = []
        if password != nil { keys.append("password") }
        for (i, s) in sources.enumerated() {
            if let dsn = s.postgres?.dsn, ConfigurationParser.urlHasPassword(dsn) { keys.append("source[\(i)].dsn") }
        }
        for (i, n) in notify.enumerated() {
            if n.password != nil { keys.append("notify[\(i)].password") }
            if !n.headers.isEmpty { keys.append("notify[\(i)].headers") }
            if let url = n.url, ConfigurationParser.urlHasPassword(url) { keys.append("notify[\(i)].url") }
        }
        return keys
    }
}

/// When `kura run` collects garbage after `forget` removed snapshots.
public struct GCPolicy: Sendable, Equatable {
    /// `never`, `always` (after every forget that removed something), `daily`, `weekly`, `monthly`.
    public var every: Period = .weekly
    /// Unused space allowed to remain in packs (0...1).
    public var maxUnused = 0.05
    public init() {}
}

/// How often something periodic (gc, restore verification) is done.
public enum Period: String, Sendable, Codable, Equatable {
    case never, always, daily, weekly, monthly

    /// Seconds that must have passed since the last time (a little less than the period, so a job that
    /// runs at the same time every day or week is not pushed back by a few minutes of run time).
    public var interval: TimeInterval? {
        switch self {
        case .never: return nil
        case .always: return 0
        case .daily: return 86_400 - 3_600
        case .weekly: return 7 * 86_400 - 3_600
        case .monthly: return 28 * 86_400
        }
    }

    /// Whether it is due, given when it was last done.
    public func isDue(last: Date?, now: Date) -> Bool {
        guard let interval else { return false }
        guard let last else { return true }
        return now.timeIntervalSince(last) >= interval
    }
}

/// Where Docker is.
public struct DockerSettings: Sendable, Equatable {
    /// The Docker Engine API socket.
    public var socket = "/var/run/docker.sock"
    /// Docker's data root: a volume without the API is `<root>/volumes/<name>/_data`.
    public var root = "/var/lib/docker"
    /// Seconds Docker waits for a container to stop before killing it.
    public var stopTimeout = 60
    public init() {}
}

/// One named source: what to back up, when, and how long to keep it.
public struct SourceConfig: Sendable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case directory, dockerVolume = "docker-volume", postgres, command }

    public var name: String
    public var kind: Kind
    // directory
    public var paths: [String] = []
    public var exclude: [String] = []
    public var oneFileSystem = false
    // docker-volume
    public var volumes: [String] = []
    /// Containers to stop around the backup: `[]` none; `["*"]` every running container that uses one of the volumes.
    public var stopContainers: [String] = []
    /// Pause (freeze) the containers using the volumes instead of stopping them.
    public var pause = false
    // postgres
    public var postgres: PostgresSettings?
    // command
    public var command: [String] = []
    /// File name of the command output in the snapshot (default: `<name>.out`).
    public var filename: String?
    // common
    /// Cron expressions; the source is due when any of them is.
    public var schedule: [CronExpression] = []
    public var keep: RetentionPolicy?
    /// Week days (0 = Sunday) on which the backup re-reads everything (a "full").
    public var fullEvery: Set<Int> = []
    public var check = CheckPolicy()
    public var before: Hook?
    public var after: Hook?
    /// Extra tags for the snapshots (besides `source:<name>`).
    public var tags: [String] = []
    /// `time-limit`: the longest the source's backup may take (hooks excluded); nil: no limit.
    public var timeLimitSeconds: Double?
    /// `grace`: this source's own lateness grace (nil: the configuration's).
    public var grace: TimeInterval?
    /// `offsite`: the copy targets (their names in ``Configuration/offsite``) each new snapshot is copied to.
    public var offsite: [String] = []
    /// `offsite-keep`: the retention applied to this source's snapshots in each offsite target after the copy.
    public var offsiteKeep: RetentionPolicy?

    public init(name: String, kind: Kind) { self.name = name; self.kind = kind }

    /// The tag every snapshot of this source carries; retention and status select by it.
    public var tag: String { SourceConfig.tag(for: name) }
    public static func tag(for name: String) -> String { "source:" + name }

    /// The schedule as written (for display).
    public var scheduleText: [String] { schedule.map(\.text) }
}

/// A second repository that `kura run` copies sources' new snapshots to (`kura copy`), after the
/// backup and its checks: `[[offsite]]` in kura.toml, or a location written directly in a source's
/// `offsite` (then named by its location, with the repository's password).
public struct OffsiteTarget: Sendable, Equatable {
    /// How sources and reports name it.
    public var name: String
    /// The target repository's location (a folder or `s3:…`); it must exist (`kura init --copy-chunker-params-from`).
    public var repository: String
    /// The target's password file; nil: the repository's own password.
    public var passwordFile: String?
    /// Read every copied blob back from the target and check its hash (`kura copy --verify-data`).
    public var verifyData = false
    /// `retention` and `retention-mode` (S3 targets): the Object Lock retention set on every object the
    /// copy uploads (`kura copy --retention`); nil: none (the bucket's default retention still applies).
    public var objectLock: S3ObjectLock?
    public init(name: String, repository: String) { self.name = name; self.repository = repository }
}

/// How S3 locations of the configuration (the repository, offsite targets) are reached; each nil
/// falls back to the environment (`KURA_S3_ENDPOINT`, `AWS_REGION`, `AWS_PROFILE`, `~/.aws/credentials`).
public struct S3Settings: Sendable, Equatable {
    /// For `s3://BUCKET[/PREFIX]` locations: the service endpoint (virtual-host addressing).
    public var endpoint: String?
    /// The signing region.
    public var region: String?
    /// A profile of the credentials file; set, the environment's AWS_ACCESS_KEY_ID is not used.
    public var profile: String?
    /// An AWS-style credentials file (mode 0600); set, the environment's AWS_ACCESS_KEY_ID is not used.
    public var credentialsFile: String?
    public init() {}
}

/// PostgreSQL source settings.
public struct PostgresSettings: Sendable, Equatable {
    /// A libpq connection string or URI (without a database, or with the maintenance database).
    public var dsn: String
    /// Databases to dump; empty: every database that accepts connections except templates.
    public var databases: [String] = []
    /// `custom` (pg_dump -Fc, the default), `plain` (SQL) or `tar`.
    public var format = "custom"
    /// Record exact row counts of every table next to the dump (to compare after a restore).
    public var rowCounts = false
    /// Also take a physical base backup (pg_basebackup, tar format).
    public var physical = false
    /// `lock-timeout`: how long to wait for a table lock before the source fails, naming the holder.
    public var lockTimeoutSeconds: Double = 60
    /// `wal-archive = true`: the server archives its WAL with `kura wal-push` (checked by `config check`).
    public var walArchive = false
    /// `physical-schedule`: when `kura run` takes a physical base backup (pg_basebackup), e.g. weekly.
    public var physicalSchedule: CronExpression?
    public init(dsn: String) { self.dsn = dsn }
}

/// What `kura run` checks after a source's backup.
public struct CheckPolicy: Sendable, Equatable {
    /// Read and verify this part of the data on every run: `N/M` rotates through the M parts day by day
    /// (so `1/7` covers everything in a week), `P%` is a random sample; nil: structure only.
    public var readDataSubset: String?
    /// Whether the structure check runs at all (default: yes, whenever a check is configured).
    public var enabled = false
    /// How often the newest snapshot is verified by reading back every file (decrypt, decompress, hash).
    public var verifyRestore: Period = .never
    public init() {}
}

/// A command run before or after a source's backup, through `/bin/sh -c`.
public struct Hook: Sendable, Equatable {
    public var command: String
    public var timeoutSeconds: Double = 600
    public init(command: String, timeoutSeconds: Double = 600) { self.command = command; self.timeoutSeconds = timeoutSeconds }
}

/// A notification channel as configured.
public struct NotifyConfig: Sendable {
    public enum Kind: String, Sendable { case smtp, sendmail, webhook, healthchecks }
    public var name: String
    public var kind: Kind
    public var on: NotifyWhen = .failure
    // smtp
    public var host: String?
    public var port: Int?
    public var security: String = "starttls"
    public var username: String?
    public var password: String?
    public var passwordFile: String?
    public var from: String?
    public var to: [String] = []
    public var caFile: String?
    public var insecureSkipVerify = false
    // sendmail
    public var command: [String] = []
    // webhook
    public var url: String?
    public var format: String = "json"
    public var headers: [String: String] = [:]
    // healthchecks (url as for webhook)
    /// The sources whose runs ping this check; empty: all.
    public var sources: [String] = []
    /// `timeout`; nil: the channel's own default (SMTP 30 s, sendmail 60 s, webhook 15 s, as documented).
    public var timeoutSeconds: Double?

    /// The time limit in whole seconds: `timeout`, else the channel's default.
    func timeout(default seconds: Int) -> Int { timeoutSeconds.map { Int($0.rounded(.up)) } ?? seconds }

    public init(name: String, kind: Kind) { self.name = name; self.kind = kind }
}
