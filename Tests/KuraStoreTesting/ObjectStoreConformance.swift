import KuraStore

/// The behaviour every ``ObjectStore`` must have: one check per case, each run against a fresh, empty
/// store. Every store's tests run all of them (restic's `backend/test` suite in kind):
///
/// ```swift
/// @Test(arguments: ObjectStoreConformance.allCases)
/// func conformance(_ check: ObjectStoreConformance) async throws {
///     try await check.run(on: MemoryStore())
/// }
/// ```
///
/// A check throws ``ConformanceFailure`` at the first expectation that does not hold (or the store's own
/// error, if an operation that must succeed fails). The checks write at most ~21 MiB; they leave the
/// store with what they wrote.
public enum ObjectStoreConformance: String, CaseIterable, Sendable, CustomStringConvertible {
        case roundTrip
        case largeObject
        case overwriteReplaces
        case rangeGets
        case listing
        case emptyStore
        case stat
        case delete
        case objectDirectoryClash
        case invalidKeysRejected
        case validKeys
        case errorDescriptions
        case concurrentPutsOfDifferentKeys
        case concurrentPutsToSameKey
        case concurrentPutsAndDeletes

    /// What the check verifies.
    public var description: String {
        switch self {
        case .roundTrip: return "put then get returns the bytes, including an empty object"
        case .largeObject: return "a 20 MiB object round-trips"
        case .overwriteReplaces: return "put replaces an existing object"
        case .rangeGets: return "ranged gets: start, middle, end, empty ranges, past the end"
        case .listing: return "list: prefixes at several depths, sorted by key, with sizes"
        case .emptyStore: return "a new store lists nothing"
        case .stat: return "stat gives key and size; missing objects and directory levels are notFound"
        case .delete: return "delete removes the object; deleting a missing object is notFound"
        case .objectDirectoryClash: return "a key cannot be an object and a directory at once; deleting frees it"
        case .invalidKeysRejected: return "invalid keys are rejected by every operation"
        case .validKeys: return "unusual but valid keys work"
        case .errorDescriptions: return "errors name the object and the store"
        case .concurrentPutsOfDifferentKeys: return "64 concurrent puts of different keys"
        case .concurrentPutsToSameKey: return "concurrent puts to one key: readers and the end result see one whole value"
        case .concurrentPutsAndDeletes: return "concurrent puts and deletes in one directory do not trip over each other"
        }
    }

    /// Runs the check against `store`, which must be empty.
    public func run(on store: any ObjectStore) async throws {
        switch self {
        case .roundTrip: try await Self.roundTrip(store)
        case .largeObject: try await Self.largeObject(store)
        case .overwriteReplaces: try await Self.overwriteReplaces(store)
        case .rangeGets: try await Self.rangeGets(store)
        case .listing: try await Self.listing(store)
        case .emptyStore: try await Self.emptyStore(store)
        case .stat: try await Self.stat(store)
        case .delete: try await Self.delete(store)
        case .objectDirectoryClash: try await Self.objectDirectoryClash(store)
        case .invalidKeysRejected: try await Self.invalidKeysRejected(store)
        case .validKeys: try await Self.validKeys(store)
        case .errorDescriptions: try await Self.errorDescriptions(store)
        case .concurrentPutsOfDifferentKeys: try await Self.concurrentPutsOfDifferentKeys(store)
        case .concurrentPutsToSameKey: try await Self.concurrentPutsToSameKey(store)
        case .concurrentPutsAndDeletes: try await Self.concurrentPutsAndDeletes(store)
        }
    }

    // MARK: put and get

    /// put then get returns the bytes, including an empty object
    static func roundTrip(_ store: any ObjectStore) async throws {
        try expect(!store.location.isEmpty, "the store has a location")
        let data = testBytes(1000, seed: 1)
        try await store.put("config", data: data)
        try await store.put("data/ab/abcdef", data: data + data)
        try await store.put("empty", data: [])
        try expectEqual(try await store.get("config"), data)
        try expectEqual(try await store.get("data/ab/abcdef"), data + data)
        try expectEqual(try await store.get("empty"), [])
        try expectEqual(try await store.stat("empty"), ObjectInfo(key: "empty", size: 0))
        try await expectStoreError(.notFound) { try await store.get("missing") }
        try await expectStoreError(.notFound) { try await store.get("data/ab/missing") }
        try await expectStoreError(.notFound) { try await store.get("config/below-an-object") }
    }

    /// a 20 MiB object round-trips
    static func largeObject(_ store: any ObjectStore) async throws {
        let data = testBytes(20 << 20, seed: 2)
        try await store.put("data/large", data: data)
        try expectEqual(try await store.stat("data/large").size, 20 << 20)
        let back = try await store.get("data/large")
        try expectEqual(back.count, data.count)
        try expectEqual(back, data)
        try expectEqual(try await store.get("data/large", range: (10 << 20)..<((10 << 20) + 4096)),
                        Array(data[(10 << 20)..<((10 << 20) + 4096)]))
    }

    /// put replaces an existing object
    static func overwriteReplaces(_ store: any ObjectStore) async throws {
        try await store.put("a/b", data: testBytes(5000, seed: 3))
        let smaller = testBytes(100, seed: 4)
        try await store.put("a/b", data: smaller)
        try expectEqual(try await store.get("a/b"), smaller)
        try expectEqual(try await store.list(prefix: ""), [ObjectInfo(key: "a/b", size: 100)])
        try await store.put("a/b", data: [])
        try expectEqual(try await store.get("a/b"), [])
    }

    // MARK: ranges

    /// ranged gets: start, middle, end, empty ranges, past the end
    static func rangeGets(_ store: any ObjectStore) async throws {
        let data = testBytes(1000, seed: 5)
        try await store.put("obj", data: data)
        try expectEqual(try await store.get("obj", range: 0..<10), Array(data[0..<10]))
        try expectEqual(try await store.get("obj", range: 500..<600), Array(data[500..<600]))
        try expectEqual(try await store.get("obj", range: 990..<1000), Array(data[990..<1000]))
        try expectEqual(try await store.get("obj", range: 0..<1000), data)
        try expectEqual(try await store.get("obj", range: 0..<0), [])
        try expectEqual(try await store.get("obj", range: 500..<500), [])
        try expectEqual(try await store.get("obj", range: 1000..<1000), [])
        try await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: 990..<1001) }
        try await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: 1001..<1001) }
        try await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: 2000..<3000) }
        try await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: -1..<3) }
        try await expectStoreError(.notFound) { try await store.get("missing", range: 0..<0) }

        try await store.put("empty", data: [])
        try expectEqual(try await store.get("empty", range: 0..<0), [])
        try await expectStoreError(.rangeNotSatisfiable) { try await store.get("empty", range: 0..<1) }
    }

    // MARK: list and stat

    /// list: prefixes at several depths, sorted by key, with sizes
    static func listing(_ store: any ObjectStore) async throws {
        // Distinct sizes, written out of order; "a-b" < "a.b" < "a/b" in byte order.
        let written = ["snapshots/s1", "data/01/b", "config", "data/00/ab", "data/0x", "data/00/aa", "index/2",
                    "index/1", "keys/k", "a/b", "a.b", "a-b", "data/00/ab-c/deep/er"]
        var expected: [ObjectInfo] = []
        for (i, key) in written.enumerated() {
            try await store.put(key, data: testBytes(10 + i, seed: UInt64(i)))
            expected.append(ObjectInfo(key: key, size: 10 + i))
        }
        expected.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        func keys(_ prefix: String) async throws -> [String] { try await store.list(prefix: prefix).map(\.key) }

        try expectEqual(try await store.list(prefix: ""), expected)
        try expectEqual(try await keys(""), ["a-b", "a.b", "a/b", "config", "data/00/aa", "data/00/ab",
                                       "data/00/ab-c/deep/er", "data/01/b", "data/0x", "index/1", "index/2",
                                       "keys/k", "snapshots/s1"])
        try expectEqual(try await keys("data/"), ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er", "data/01/b", "data/0x"])
        try expectEqual(try await keys("data"), ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er", "data/01/b", "data/0x"])
        try expectEqual(try await keys("data/0"), ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er", "data/01/b", "data/0x"])
        try expectEqual(try await keys("data/00/"), ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er"])
        try expectEqual(try await keys("data/00/ab"), ["data/00/ab", "data/00/ab-c/deep/er"])
        try expectEqual(try await keys("data/00/ab-c/deep/"), ["data/00/ab-c/deep/er"])
        try expectEqual(try await keys("data/00/ab/"), [])
        try expectEqual(try await keys("a"), ["a-b", "a.b", "a/b"])
        try expectEqual(try await keys("a/"), ["a/b"])
        try expectEqual(try await keys("conf"), ["config"])
        try expectEqual(try await keys("config"), ["config"])
        try expectEqual(try await store.list(prefix: "index/").map(\.size), [17, 16])
        try expectEqual(try await keys("nothing"), [])
        try expectEqual(try await keys("nothing/at/all/"), [])
        try expectEqual(try await keys("data/02/"), [])
        try expectEqual(try await keys("zzz"), [])
    }

    /// a new store lists nothing
    static func emptyStore(_ store: any ObjectStore) async throws {
        try expectEqual(try await store.list(prefix: ""), [])
        try expectEqual(try await store.list(prefix: "data/"), [])
    }

    /// stat gives key and size; missing objects and directory levels are notFound
    static func stat(_ store: any ObjectStore) async throws {
        try await store.put("data/ab/obj", data: testBytes(1234, seed: 6))
        try expectEqual(try await store.stat("data/ab/obj"), ObjectInfo(key: "data/ab/obj", size: 1234))
        try await expectStoreError(.notFound) { try await store.stat("data/ab/other") }
        try await expectStoreError(.notFound) { try await store.stat("data/ab") }
        try await expectStoreError(.notFound) { try await store.get("data") }
        try await expectStoreError(.notFound) { try await store.stat("data/ab/obj/below") }
    }

    // MARK: delete

    /// delete removes the object; deleting a missing object is notFound
    static func delete(_ store: any ObjectStore) async throws {
        try await store.put("data/ab/one", data: [1])
        try await store.put("data/ab/two", data: [2])
        try await store.delete("data/ab/one")
        try await expectStoreError(.notFound) { try await store.get("data/ab/one") }
        try await expectStoreError(.notFound) { try await store.get("data/ab/one", range: 0..<0) }
        try await expectStoreError(.notFound) { try await store.stat("data/ab/one") }
        try expectEqual(try await store.list(prefix: "").map(\.key), ["data/ab/two"])
        try await expectStoreError(.notFound) { try await store.delete("data/ab/one") }
        try await expectStoreError(.notFound) { try await store.delete("never/was") }
        try await expectStoreError(.notFound, "a directory level is not an object") { try await store.delete("data/ab") }
        try expectEqual(try await store.get("data/ab/two"), [2])
        try await store.delete("data/ab/two")
        try expectEqual(try await store.list(prefix: ""), [], "nothing is left")
    }

    /// a key cannot be an object and a directory at once; deleting frees it
    static func objectDirectoryClash(_ store: any ObjectStore) async throws {
        try await store.put("a", data: [1])
        try await expectStoreError(.alreadyExists) { try await store.put("a/b", data: [2]) }
        try await expectStoreError(.alreadyExists) { try await store.put("a/b/c", data: [2]) }
        try await store.put("c/d/e", data: [3])
        try await expectStoreError(.alreadyExists) { try await store.put("c", data: [4]) }
        try await expectStoreError(.alreadyExists) { try await store.put("c/d", data: [4]) }
        try expectEqual(try await store.list(prefix: ""), [ObjectInfo(key: "a", size: 1), ObjectInfo(key: "c/d/e", size: 1)])
        try expectEqual(try await store.get("a"), [1])

        try await store.delete("c/d/e")
        try await store.put("c", data: [5])        // the emptied directories are gone
        try expectEqual(try await store.get("c"), [5])
        try await store.delete("a")
        try await store.put("a/b", data: [6])
        try expectEqual(try await store.list(prefix: ""), [ObjectInfo(key: "a/b", size: 1), ObjectInfo(key: "c", size: 1)])
    }

    // MARK: keys

    public static let invalidKeys = ["", "/a", "a/", "a//b", "../x", "a/../b", "..", ".", ".hidden", "a/.hidden", "a/./b",
                              "has space", "a/b c", "tab\there", "new\nline", "back\\slash", "colon:", "é", "a\u{0}b",
                              ".tmp-123", String(repeating: "x", count: 256),
                              String(repeating: "abcdefg/", count: 128) + "z"]

    /// invalid keys are rejected by every operation
    static func invalidKeysRejected(_ store: any ObjectStore) async throws {
        for key in Self.invalidKeys {
            let why = "key \(String(reflecting: key))"
            try await expectStoreError(.invalidKey, why) { try await store.put(key, data: [1]) }
            try await expectStoreError(.invalidKey, why) { try await store.get(key) }
            try await expectStoreError(.invalidKey, why) { try await store.get(key, range: 0..<0) }
            try await expectStoreError(.invalidKey, why) { try await store.stat(key) }
            try await expectStoreError(.invalidKey, why) { try await store.delete(key) }
        }
        for prefix in ["/a", "a//b", "a//", "../x", ".hidden", "a/./b", "a/.", "has space", "a/b c", "é", "/", "//",
                       String(repeating: "n", count: 256)] {
            let why = "prefix \(String(reflecting: prefix))"
            try await expectStoreError(.invalidKey, why) { try await store.list(prefix: prefix) }
        }
        try expect(try await store.list(prefix: "").isEmpty, "nothing was written")
    }

    /// unusual but valid keys work
    static func validKeys(_ store: any ObjectStore) async throws {
        let longest = [255, 255, 255, 254].map { String(repeating: "k", count: $0) }.joined(separator: "/") + "/k"
        try expectEqual(longest.utf8.count, 1024)
        let keys = ["A-Z_a.z.0-9", "a..b", "x/y-", "-dash", "_under", "0", String(repeating: "n", count: 255), longest]
        for (i, key) in keys.enumerated() {
            try await store.put(key, data: [UInt8(i)])
            try expectEqual(try await store.get(key), [UInt8(i)])
        }
        try expectEqual(try await store.list(prefix: "").count, keys.count)
        try expectEqual(try await store.list(prefix: longest).map(\.key), [longest])
        try expectEqual(try await store.list(prefix: String(repeating: "n", count: 255)).count, 1)
        for key in keys { try await store.delete(key) }
    }

    /// errors name the object and the store
    static func errorDescriptions(_ store: any ObjectStore) async throws {
        let error = try await expectStoreError(.notFound) { try await store.get("data/missing") }
        try expectEqual(error.key, "data/missing")
        let text = error.description
        try expect(text.contains("\"data/missing\""), "the description names the key: \(text)")
        try expect(text.contains(store.location), "the description names the store: \(text)")
        try expect(!text.contains("\n"), "the description is one line")
        let invalid = try await expectStoreError(.invalidKey) { try await store.put("bad\nkey", data: []) }
        try expectEqual(invalid.description.contains("\n"), false)
    }

    // MARK: concurrency

    /// 64 concurrent puts of different keys
    static func concurrentPutsOfDifferentKeys(_ store: any ObjectStore) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { try await store.put("c/\(i % 4)/obj\(i)", data: testBytes(1000 + i, seed: UInt64(i))) }
            }
            try await group.waitForAll()
        }
        let listed = try await store.list(prefix: "c/")
        try expectEqual(listed.count, 64)
        for i in 0..<64 {
            try expectEqual(try await store.get("c/\(i % 4)/obj\(i)"), testBytes(1000 + i, seed: UInt64(i)))
        }
    }

    /// concurrent puts to one key: readers and the end result see one whole value
    static func concurrentPutsToSameKey(_ store: any ObjectStore) async throws {
        let values = (0..<17).map { testBytes(256 << 10, seed: 100 + UInt64($0)) }
        try await store.put("same/key", data: values[0])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for value in values.dropFirst() {
                group.addTask { try await store.put("same/key", data: value) }
            }
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<20 {
                        let seen = try await store.get("same/key")
                        try expect(values.contains(seen), "a reader saw a partial or mixed object")
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await store.get("same/key")
        try expect(values.dropFirst().contains(final), "the end result is one of the values written")
        try expectEqual(try await store.list(prefix: ""), [ObjectInfo(key: "same/key", size: 256 << 10)])
    }

    /// concurrent puts and deletes in one directory do not trip over each other
    static func concurrentPutsAndDeletes(_ store: any ObjectStore) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in ["a", "b", "c", "d"] {
                group.addTask {
                    for i in 0..<100 {
                        try await store.put("p/q/\(name)", data: [UInt8(i)])
                        try await store.delete("p/q/\(name)")
                    }
                }
            }
            try await group.waitForAll()
        }
        try expectEqual(try await store.list(prefix: ""), [], "nothing is left")
        try await store.put("p", data: [1])   // nothing is left below "p"
    }
}
