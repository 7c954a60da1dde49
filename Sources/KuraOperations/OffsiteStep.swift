import Foundation
import KuraCopier
import KuraMaintenance
import KuraNotify
import KuraRepository
import Logging

/// The nightly offsite step of `kura run`: after a source's backup and checks, every snapshot of the
/// source (this host) that an offsite target does not hold yet is copied there (``Copier``: only the
/// blobs the target lacks, verified at the end), then the source's `offsite-keep` is applied in the
/// target, and gc runs there when the configuration's gc policy says so.
///
/// Copying all of the source's snapshots, not only the new one, lets a target that was unreachable for
/// a few nights catch up by itself; a snapshot already copied costs one comparison.
struct OffsiteStep: Sendable {
    let config: Configuration
    let environment: OperationsEnvironment
    let host: String
    let logger: Logger
    let now: Date

    /// Copies to one target. Never throws: the result says what happened; the error (when it failed) is
    /// returned for the source's failure report.
    func run(source: SourceConfig, target: OffsiteTarget, repository: Repository,
             state: inout RunState.OffsiteState) async -> (OffsiteResult, KuraError?) {
        let clock = Date()
        var result = OffsiteResult(target: target.name, success: false)
        let meta: Logger.Metadata = ["source": .string(source.name), "offsite": .string(target.name)]
        state.lastAttempt = now
        var failure: KuraError?
        do {
            let destination = try await Resources.openOffsite(target, config, environment)
            destination.setWarningHandler { [logger] in logger.warning("\($0) (offsite \(target.name))", metadata: meta) }
            var options = CopyOptions()
            options.sourceName = source.name
            options.hosts = [host]
            options.verifyData = target.verifyData
            let copy = try await Copier(source: repository, target: destination, options: options) { [logger] line in
                if line.hasPrefix("warning: ") { logger.warning("\(line.dropFirst(9))", metadata: meta) } else { logger.debug("\(line)", metadata: meta) }
            }.run()
            result.snapshotsCopied = copy.snapshotsCopied
            result.snapshotsSkipped = copy.snapshotsSkipped
            result.bytesCopied = copy.bytesCopied
            result.bytesStored = copy.bytesStored
            // Every selected snapshot is in the target now: the newest of them is the newest copy.
            if let newest = copy.snapshots.max(by: { (Timestamp.parse($0.time) ?? .distantPast) < (Timestamp.parse($1.time) ?? .distantPast) }) {
                state.newestCopied = newest.source
                state.newestCopiedTime = Timestamp.parse(newest.time)
            }
            logger.info("offsite copy done", metadata: meta.merging(["copied": .string("\(copy.snapshotsCopied)"), "bytes": .string("\(copy.bytesCopied)")]) { a, _ in a })
            if let keep = source.offsiteKeep {
                let (kept, removed) = try await Runner.forget(source, policy: keep, repository: destination, host: host,
                                                              timeZone: config.timeZone, now: max(now, Date()))
                result.retained = kept
                result.removed = removed
                logger.info("offsite forget applied", metadata: meta.merging(["kept": .string("\(result.retained!)"), "removed": .string("\(result.removed!)")]) { a, _ in a })
                if result.removed! > 0 || config.gc.every == .always, config.gc.every.isDue(last: state.lastGC, now: now) {
                    var gc = GCOptions()
                    gc.maxUnused = config.gc.maxUnused
                    let freed = try await GarbageCollector(repository: destination, options: gc).run()
                    state.lastGC = now
                    logger.info("offsite gc done", metadata: meta.merging(["freed": .string("\(freed.bytesFreed)")]) { a, _ in a })
                }
            }
            result.success = true
            state.lastSuccess = true
            state.lastError = nil
        } catch {
            let e = KuraError.from(error)
            result.error = e.message
            state.lastSuccess = false
            state.lastError = e.message
            logger.error("offsite copy failed", metadata: meta.merging(["error": .string(e.message)]) { a, _ in a })
            var f = e
            f.message = "the copy to offsite target \(target.name) failed: \(e.message)"
            f.hint = (e.hint.map { $0 + "; " } ?? "") + "the local snapshot is safe; the next run copies whatever the target still lacks (or run `kura copy --to \(target.repository) --source \(source.name)` by hand)"
            failure = f
        }
        result.seconds = Date().timeIntervalSince(clock)
        // The lag: the newest copy and how many of the source's snapshots are newer than it.
        result.newestCopied = state.newestCopied
        result.newestCopiedTime = state.newestCopiedTime
        result.behind = OffsiteStep.behind((try? await repository.listSnapshots()) ?? [], source: source, host: host,
                                           newestID: state.newestCopied, newest: state.newestCopiedTime)
        return (result, failure)
    }

    /// Fills in the lag: the newest copy and how many of the source's snapshots are newer than it.
    private func finish(_ result: inout OffsiteResult, state: RunState.OffsiteState, source: SourceConfig, repository: Repository) async {
        result.newestCopied = state.newestCopied
        result.newestCopiedTime = state.newestCopiedTime
        result.behind = OffsiteStep.behind((try? await repository.listSnapshots()) ?? [], source: source, host: host, newestID: state.newestCopied, newest: state.newestCopiedTime)
    }

    /// The source's snapshots (this host) newer than the newest copy (all of them when nothing was
    /// copied). The copy is found by its id; the state file keeps times to the second only.
    static func behind(_ snapshots: [Snapshot], source: SourceConfig, host: String, newestID: String?, newest: Date?) -> Int {
        let mine = snapshots.filter { $0.host == host && $0.tags.contains(source.tag) }
        if let newestID, let copied = mine.first(where: { $0.id?.hex == newestID }) { return mine.filter { $0.date > copied.date }.count }
        guard let newest else { return mine.count }
        return mine.filter { $0.date.timeIntervalSince(newest) >= 1 }.count
    }
}
