import Foundation
import KuraCrypto

/// The local cache of what every command reads again and again from a remote repository (S3):
/// snapshot objects and tree blobs, next to the index cache in `<cache>/<repository id>/`.
///
/// Both are kept exactly as stored — sealed, so the cache holds no plaintext (tree blobs carry file
/// names) — and both are immutable and named by content, so a cached copy can never be stale, only
/// damaged or superfluous: a snapshot is checked against its name (SHA-256 of its bytes) and a tree
/// blob is authenticated with its id on every read, exactly as when read from the repository; a
/// damaged copy is dropped and read again from the store. Snapshots the repository no longer lists are
/// removed when snapshots are listed; trees whose blobs are no longer indexed when the index is
/// written by gc. Local repositories are not cached (their reads are as cheap as the cache's).
struct ObjectCache: Sendable {
    let directory: String

    init(directory: String) { self.directory = directory }

    private func path(_ folder: String, _ id: BlobID) -> String { "\(directory)/\(folder)/\(id.hex)" }

    /// The cached bytes of `folder/id`, or nil.
    func read(_ folder: String, _ id: BlobID) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path(folder, id)) else { return nil }
        return [UInt8](data)
    }

    /// Stores a copy (atomically; failures are ignored: it is only a cache).
    func write(_ folder: String, _ id: BlobID, _ bytes: [UInt8]) {
        let dir = "\(directory)/\(folder)"
        if !FileManager.default.fileExists(atPath: dir) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            ObjectCache.tagCacheRoot((directory as NSString).deletingLastPathComponent)
        }
        let final = path(folder, id)
        let tmp = final + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else { return }
        if rename(tmp, final) != 0 { unlink(tmp) }
    }

    /// Drops a damaged copy.
    func remove(_ folder: String, _ id: BlobID) { unlink(path(folder, id)) }

    /// Removes the cached objects of `folder` whose ids `keep` rejects.
    func prune(_ folder: String, keep: (BlobID) -> Bool) {
        let dir = "\(directory)/\(folder)"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let id = BlobID(hex: name) else {
                if name.contains(".tmp-") { unlink("\(dir)/\(name)") }
                continue
            }
            if !keep(id) { unlink("\(dir)/\(name)") }
        }
    }

    /// A `CACHEDIR.TAG` in the cache's root, so backup tools (kura's `--exclude-caches`, tar, borg)
    /// skip it.
    static func tagCacheRoot(_ root: String) {
        let tag = root + "/CACHEDIR.TAG"
        guard !FileManager.default.fileExists(atPath: tag) else { return }
        let text = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by kura.\n# For information about cache directory tags see https://bford.info/cachedir/\n"
        FileManager.default.createFile(atPath: tag, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }
}

extension Repository {
    /// The object cache, for remote repositories with a cache folder.
    var objectCache: ObjectCache? {
        guard rawStore.isRemote, let cacheDirectory else { return nil }
        return ObjectCache(directory: "\(cacheDirectory)/\(config.id)")
    }

    /// Removes cached trees the index no longer has (after gc); nothing without an object cache.
    public func pruneObjectCache() {
        guard let cache = objectCache, state.withLock({ $0.indexLoaded }) else { return }
        cache.prune("trees") { location(of: $0) != nil }
    }
}
