import Foundation
import KuraRepository

/// What this host remembers between runs (`<state-dir>/state.json`): per source, the last run and the
/// slot it handled (for `--due`), the last check and restore verification; and the last gc.
/// The repository keeps the run reports too (records of kind `run`), so other hosts can show them.
public struct RunState: Codable, Sendable, Equatable {
    public struct SourceState: Codable, Sendable, Equatable {
        public var lastStarted: Date?
        public var lastFinished: Date?
        /// The scheduled time the last `--due` run was for.
        public var lastSlot: Date?
        public var lastSuccess: Bool?
        public var lastDurationSeconds: Double?
        public var lastError: String?
        public var lastSnapshot: String?
        public var lastGoodSnapshot: String?
        public var lastGoodTime: Date?
        public var lastCheck: Date?
        public var lastCheckResult: String?
        public var lastVerifyRestore: Date?
        public var lastVerifyRestoreResult: String?
        public var snapshotsRetained: Int?
        /// Per offsite target (by name): the last copy to it.
        public var offsite: [String: OffsiteState]?
        public init() {}

        /// When the source last succeeded on this host, by the state file: a successful last run, or the
        /// time of the last good snapshot (not after `now`).
        public func lastSuccessTime(now: Date) -> Date? {
            var best: Date? = lastSuccess == true ? lastStarted : nil
            if let t = lastGoodTime, lastGoodSnapshot != nil, t <= now { best = max(t, best ?? t) }
            return best
        }
    }
    /// The last copy of a source to one offsite target.
    public struct OffsiteState: Codable, Sendable, Equatable {
        public var lastAttempt: Date?
        public var lastSuccess: Bool?
        public var lastError: String?
        /// The newest of the source's snapshots the target holds (source id) and its time.
        public var newestCopied: String?
        public var newestCopiedTime: Date?
        /// When the target was last garbage-collected by `kura run`.
        public var lastGC: Date?
        public init() {}
    }
    public var version = 1
    public var sources: [String: SourceState] = [:]
    public var lastGC: Date?
    public var lastGCResult: String?
    public init() {}
}

/// Reads and writes the state file atomically (write to a temporary file, fsync, rename).
public struct StateStore: Sendable {
    public let directory: String
    public var path: String { directory + "/state.json" }
    public var lockPath: String { directory + "/run.lock" }

    public init(directory: String) { self.directory = directory }

    /// The state directory: the configuration's `state-dir`, else $KURA_STATE_DIR, else /var/lib/kura.
    public static func directory(for config: Configuration, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let d = config.stateDirectory { return d }
        if let d = environment["KURA_STATE_DIR"], !d.isEmpty { return d }
        return "/var/lib/kura"
    }

    public func load() throws -> RunState {
        guard let data = FileManager.default.contents(atPath: path) else { return RunState() }
        do { return try StateStore.decoder.decode(RunState.self, from: data) } catch {
            throw KuraError(.corrupt, "the state file \(path) cannot be read: \(error)",
                            hint: "move it away; the next run starts afresh (every scheduled source counts as due once)")
        }
    }

    public func save(_ state: RunState) throws {
        try ensureDirectory()
        let data = try StateStore.encoder.encode(state)
        try AtomicFile.write(Array(data), to: path, mode: 0o600, what: "the state file")
    }

    /// Why the state cannot be used, or nil when it can: the state file must be readable (or absent) and
    /// the folder writable — probed by creating and removing a file, so it holds for root too (a folder
    /// that is a file, a read-only mount). When the folder does not exist yet, its nearest existing
    /// parent must be a writable folder (the first run creates it). Changes nothing that exists.
    public func problem() -> String? {
        do { _ = try load() } catch { return "\(error)" }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { return "the state folder \(directory) is not a folder" }
            let probe = directory + "/.kura-probe-\(getpid())"
            let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return "the state folder \(directory) is not writable: \(String(cString: strerror(errno)))" }
            close(fd); unlink(probe)
            return nil
        }
        var parent = (directory as NSString).deletingLastPathComponent
        while !parent.isEmpty, parent != "/", !FileManager.default.fileExists(atPath: parent) { parent = (parent as NSString).deletingLastPathComponent }
        if parent.isEmpty { parent = "." }
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
            return "the state folder \(directory) cannot be created: \(parent) is not a folder"
        }
        guard access(parent, W_OK) == 0 else { return "the state folder \(directory) cannot be created: \(parent) is not writable" }
        return nil
    }

    func ensureDirectory() throws {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw KuraError(.io, "cannot create the state folder \(directory): \(error)", hint: "set state-dir in the configuration or $KURA_STATE_DIR to a writable folder")
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}

/// The host-wide run lock: an `flock` on `<state-dir>/run.lock`, so two `kura run`s (overlapping cron
/// or timer starts) never run at the same time. The kernel drops the lock when the process dies, so
/// it can never go stale. The file holds the holder's pid, for messages.
public final class RunLock: @unchecked Sendable {
    let fd: Int32
    public let path: String

    private init(fd: Int32, path: String) { self.fd = fd; self.path = path }

    /// Takes the lock; nil when another process holds it (after waiting up to `wait` seconds).
    public static func acquire(path: String, wait: TimeInterval = 0) async throws -> RunLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KuraError(.io, "cannot open the run lock \(path): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let e = errno; close(fd)
                throw KuraError(.io, "cannot lock \(path): \(String(cString: strerror(e)))")
            }
            if Date() >= deadline { close(fd); return nil }
            try? await Task.sleep(for: .milliseconds(200))
        }
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return RunLock(fd: fd, path: path)
    }

    /// The pid written by the current holder (if the file says).
    public static func holder(path: String) -> Int32? {
        guard let data = FileManager.default.contents(atPath: path),
              let pid = Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        return pid
    }

    /// Whether some process holds the lock right now.
    public static func isHeld(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
        return true
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }

    deinit { }
}
