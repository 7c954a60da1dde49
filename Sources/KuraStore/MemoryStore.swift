import Synchronization

/// An ``ObjectStore`` in memory, for tests: it behaves exactly like ``LocalStore`` (same key rules, same
/// range rules, same errors, same object-versus-directory clashes), but nothing survives the process.
public final class MemoryStore: ObjectStore {
    /// Always `memory`.
    public let location = "memory"

    /// No limit: every operation is a dictionary access under a lock.
    public var maxConcurrentRequests: Int { Int.max }

    private struct State: Sendable {
        /// The objects by key.
        var objects: [String: [UInt8]] = [:]
        /// For every directory level of a stored key (`a` and `a/b` for `a/b/c`), how many objects are below
        /// it: what a file system would have as a directory.
        var directories: [String: Int] = [:]
    }

    private let state = Mutex(State())

    /// Creates an empty store.
    public init() {}

    /// Creates or replaces `key` atomically: readers see the old object, or the whole new one, never a part.
    /// Throws ``ObjectStoreError/Code/alreadyExists`` if the key clashes with an object where a directory is
    /// needed, or with objects stored below it (as ``LocalStore`` does).
    public func put(_ key: String, data: [UInt8]) async throws {
        let key = try ObjectKey(key, location: location)
        try state.withLock { (state: inout State) throws(ObjectStoreError) in
            if state.directories[key.string, default: 0] > 0 {
                throw ObjectStoreError(.alreadyExists, key: key.string, location: location,
                                       message: "cannot store an object here: objects exist below this key")
            }
            let ancestors = Self.ancestors(of: key)
            if let clash = ancestors.first(where: { state.objects[$0] != nil }) {
                throw ObjectStoreError(.alreadyExists, key: key.string, location: location,
                                       message: "cannot store an object here: \"\(clash)\" is an object, not a directory")
            }
            if state.objects.updateValue(data, forKey: key.string) == nil {
                for directory in ancestors { state.directories[directory, default: 0] += 1 }
            }
        }
    }

    /// The whole object; ``ObjectStoreError/Code/notFound`` if absent.
    public func get(_ key: String) async throws -> [UInt8] {
        try object(ObjectKey(key, location: location))
    }

    /// Bytes in `range` of the object; ObjectStoreError(.rangeNotSatisfiable) if it reaches past the end.
    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        let key = try ObjectKey(key, location: location)
        let data = try object(key)
        try ObjectRange.check(range, size: data.count, key: key.string, location: location)
        return Array(data[range])
    }

    /// Every object whose key starts with `prefix` (at any depth), sorted by key. "" lists everything.
    public func list(prefix: String) async throws -> [ObjectInfo] {
        try ObjectKey.validatePrefix(prefix, location: location)
        let found = state.withLock { state in
            state.objects.compactMap { key, data in
                key.utf8.starts(with: prefix.utf8) ? ObjectInfo(key: key, size: data.count) : nil
            }
        }
        return found.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// The object's key and size; ``ObjectStoreError/Code/notFound`` if absent.
    public func stat(_ key: String) async throws -> ObjectInfo {
        let key = try ObjectKey(key, location: location)
        return ObjectInfo(key: key.string, size: try object(key).count)
    }

    /// Removes the object. ObjectStoreError(.notFound) if absent.
    public func delete(_ key: String) async throws {
        let key = try ObjectKey(key, location: location)
        try state.withLock { (state: inout State) throws(ObjectStoreError) in
            guard state.objects.removeValue(forKey: key.string) != nil else { throw notFound(key) }
            for directory in Self.ancestors(of: key) {
                let remaining = state.directories[directory, default: 0] - 1
                state.directories[directory] = remaining > 0 ? remaining : nil
            }
        }
    }

    private func object(_ key: ObjectKey) throws(ObjectStoreError) -> [UInt8] {
        let data = state.withLock { $0.objects[key.string] }
        guard let data else { throw notFound(key) }
        return data
    }

    private func notFound(_ key: ObjectKey) -> ObjectStoreError {
        ObjectStoreError(.notFound, key: key.string, location: location, message: "no such object")
    }

    /// The directory levels of `key`: `["a", "a/b"]` for `a/b/c`.
    private static func ancestors(of key: ObjectKey) -> [String] {
        var result: [String] = []
        var path = ""
        for component in key.parents {
            path += path.isEmpty ? String(component) : "/" + component
            result.append(path)
        }
        return result
    }
}
