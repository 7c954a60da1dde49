import KuraStore
import Testing
import KuraTestSupport

/// The behaviour every ``ObjectStore`` must have, run against every ``StoreKind``.
@Suite("ObjectStore conformance")
struct ObjectStoreConformance {
    // MARK: put and get

    @Test("put then get returns the bytes, including an empty object", arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            #expect(!store.location.isEmpty)
            let data = randomBytes(1000, seed: 1)
            try await store.put("config", data: data)
            try await store.put("data/ab/abcdef", data: data + data)
            try await store.put("empty", data: [])
            #expect(try await store.get("config") == data)
            #expect(try await store.get("data/ab/abcdef") == data + data)
            #expect(try await store.get("empty") == [])
            #expect(try await store.stat("empty") == ObjectInfo(key: "empty", size: 0))
            await expectStoreError(.notFound) { try await store.get("missing") }
            await expectStoreError(.notFound) { try await store.get("data/ab/missing") }
            await expectStoreError(.notFound) { try await store.get("config/below-an-object") }
        }
    }

    @Test("a 20 MiB object round-trips", arguments: StoreKind.allCases)
    func largeObject(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            let data = randomBytes(20 << 20, seed: 2)
            try await store.put("data/large", data: data)
            #expect(try await store.stat("data/large").size == 20 << 20)
            let back = try await store.get("data/large")
            #expect(back.count == data.count)
            #expect(back == data)
            #expect(try await store.get("data/large", range: (10 << 20)..<((10 << 20) + 4096)) ==
                Array(data[(10 << 20)..<((10 << 20) + 4096)]))
        }
    }

    @Test("put replaces an existing object", arguments: StoreKind.allCases)
    func overwriteReplaces(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            try await store.put("a/b", data: randomBytes(5000, seed: 3))
            let smaller = randomBytes(100, seed: 4)
            try await store.put("a/b", data: smaller)
            #expect(try await store.get("a/b") == smaller)
            #expect(try await store.list(prefix: "") == [ObjectInfo(key: "a/b", size: 100)])
            try await store.put("a/b", data: [])
            #expect(try await store.get("a/b") == [])
        }
    }

    // MARK: ranges

    @Test("ranged gets: start, middle, end, empty ranges, past the end", arguments: StoreKind.allCases)
    func rangeGets(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            let data = randomBytes(1000, seed: 5)
            try await store.put("obj", data: data)
            #expect(try await store.get("obj", range: 0..<10) == Array(data[0..<10]))
            #expect(try await store.get("obj", range: 500..<600) == Array(data[500..<600]))
            #expect(try await store.get("obj", range: 990..<1000) == Array(data[990..<1000]))
            #expect(try await store.get("obj", range: 0..<1000) == data)
            #expect(try await store.get("obj", range: 0..<0) == [])
            #expect(try await store.get("obj", range: 500..<500) == [])
            #expect(try await store.get("obj", range: 1000..<1000) == [])
            await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: 990..<1001) }
            await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: 1001..<1001) }
            await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: 2000..<3000) }
            await expectStoreError(.rangeNotSatisfiable) { try await store.get("obj", range: -1..<3) }
            await expectStoreError(.notFound) { try await store.get("missing", range: 0..<0) }

            try await store.put("empty", data: [])
            #expect(try await store.get("empty", range: 0..<0) == [])
            await expectStoreError(.rangeNotSatisfiable) { try await store.get("empty", range: 0..<1) }
        }
    }

    // MARK: list and stat

    @Test("list: prefixes at several depths, sorted by key, with sizes", arguments: StoreKind.allCases)
    func listing(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            // Distinct sizes, written out of order; "a-b" < "a.b" < "a/b" in byte order.
            let written = ["snapshots/s1", "data/01/b", "config", "data/00/ab", "data/0x", "data/00/aa", "index/2",
                        "index/1", "keys/k", "a/b", "a.b", "a-b", "data/00/ab-c/deep/er"]
            var expected: [ObjectInfo] = []
            for (i, key) in written.enumerated() {
                try await store.put(key, data: randomBytes(10 + i, seed: UInt64(i)))
                expected.append(ObjectInfo(key: key, size: 10 + i))
            }
            expected.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            func keys(_ prefix: String) async throws -> [String] { try await store.list(prefix: prefix).map(\.key) }

            #expect(try await store.list(prefix: "") == expected)
            #expect(try await keys("") == ["a-b", "a.b", "a/b", "config", "data/00/aa", "data/00/ab",
                                           "data/00/ab-c/deep/er", "data/01/b", "data/0x", "index/1", "index/2",
                                           "keys/k", "snapshots/s1"])
            #expect(try await keys("data/") == ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er", "data/01/b", "data/0x"])
            #expect(try await keys("data") == ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er", "data/01/b", "data/0x"])
            #expect(try await keys("data/0") == ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er", "data/01/b", "data/0x"])
            #expect(try await keys("data/00/") == ["data/00/aa", "data/00/ab", "data/00/ab-c/deep/er"])
            #expect(try await keys("data/00/ab") == ["data/00/ab", "data/00/ab-c/deep/er"])
            #expect(try await keys("data/00/ab-c/deep/") == ["data/00/ab-c/deep/er"])
            #expect(try await keys("data/00/ab/") == [])
            #expect(try await keys("a") == ["a-b", "a.b", "a/b"])
            #expect(try await keys("a/") == ["a/b"])
            #expect(try await keys("conf") == ["config"])
            #expect(try await keys("config") == ["config"])
            #expect(try await store.list(prefix: "index/").map(\.size) == [17, 16])
            #expect(try await keys("nothing") == [])
            #expect(try await keys("nothing/at/all/") == [])
            #expect(try await keys("data/02/") == [])
            #expect(try await keys("zzz") == [])
        }
    }

    @Test("a new store lists nothing", arguments: StoreKind.allCases)
    func emptyStore(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            #expect(try await store.list(prefix: "") == [])
            #expect(try await store.list(prefix: "data/") == [])
        }
    }

    @Test("stat gives key and size; missing objects and directory levels are notFound", arguments: StoreKind.allCases)
    func stat(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            try await store.put("data/ab/obj", data: randomBytes(1234, seed: 6))
            #expect(try await store.stat("data/ab/obj") == ObjectInfo(key: "data/ab/obj", size: 1234))
            await expectStoreError(.notFound) { try await store.stat("data/ab/other") }
            await expectStoreError(.notFound) { try await store.stat("data/ab") }
            await expectStoreError(.notFound) { try await store.get("data") }
            await expectStoreError(.notFound) { try await store.stat("data/ab/obj/below") }
        }
    }

    // MARK: delete

    @Test("delete removes the object; deleting a missing object is notFound", arguments: StoreKind.allCases)
    func delete(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            try await store.put("data/ab/one", data: [1])
            try await store.put("data/ab/two", data: [2])
            try await store.delete("data/ab/one")
            await expectStoreError(.notFound) { try await store.get("data/ab/one") }
            await expectStoreError(.notFound) { try await store.get("data/ab/one", range: 0..<0) }
            await expectStoreError(.notFound) { try await store.stat("data/ab/one") }
            #expect(try await store.list(prefix: "").map(\.key) == ["data/ab/two"])
            await expectStoreError(.notFound) { try await store.delete("data/ab/one") }
            await expectStoreError(.notFound) { try await store.delete("never/was") }
            await expectStoreError(.notFound, "a directory level is not an object") { try await store.delete("data/ab") }
            #expect(try await store.get("data/ab/two") == [2])
            try await store.delete("data/ab/two")
            #expect(try await store.list(prefix: "").isEmpty)
        }
    }

    @Test("a key cannot be an object and a directory at once; deleting frees it", arguments: StoreKind.allCases)
    func objectDirectoryClash(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            try await store.put("a", data: [1])
            await expectStoreError(.alreadyExists) { try await store.put("a/b", data: [2]) }
            await expectStoreError(.alreadyExists) { try await store.put("a/b/c", data: [2]) }
            try await store.put("c/d/e", data: [3])
            await expectStoreError(.alreadyExists) { try await store.put("c", data: [4]) }
            await expectStoreError(.alreadyExists) { try await store.put("c/d", data: [4]) }
            #expect(try await store.list(prefix: "") == [ObjectInfo(key: "a", size: 1), ObjectInfo(key: "c/d/e", size: 1)])
            #expect(try await store.get("a") == [1])

            try await store.delete("c/d/e")
            try await store.put("c", data: [5])        // the emptied directories are gone
            #expect(try await store.get("c") == [5])
            try await store.delete("a")
            try await store.put("a/b", data: [6])
            #expect(try await store.list(prefix: "") == [ObjectInfo(key: "a/b", size: 1), ObjectInfo(key: "c", size: 1)])
        }
    }

    // MARK: keys

    static let invalidKeys = ["", "/a", "a/", "a//b", "../x", "a/../b", "..", ".", ".hidden", "a/.hidden", "a/./b",
                              "has space", "a/b c", "tab\there", "new\nline", "back\\slash", "colon:", "é", "a\u{0}b",
                              ".tmp-123", String(repeating: "x", count: 256),
                              String(repeating: "abcdefg/", count: 128) + "z"]

    @Test("invalid keys are rejected by every operation", arguments: StoreKind.allCases)
    func invalidKeysRejected(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            for key in Self.invalidKeys {
                let why = Comment(rawValue: "key \(String(reflecting: key))")
                await expectStoreError(.invalidKey, why) { try await store.put(key, data: [1]) }
                await expectStoreError(.invalidKey, why) { try await store.get(key) }
                await expectStoreError(.invalidKey, why) { try await store.get(key, range: 0..<0) }
                await expectStoreError(.invalidKey, why) { try await store.stat(key) }
                await expectStoreError(.invalidKey, why) { try await store.delete(key) }
            }
            for prefix in ["/a", "a//b", "a//", "../x", ".hidden", "a/./b", "a/.", "has space", "a/b c", "é", "/", "//",
                           String(repeating: "n", count: 256)] {
                let why = Comment(rawValue: "prefix \(String(reflecting: prefix))")
                await expectStoreError(.invalidKey, why) { try await store.list(prefix: prefix) }
            }
            #expect(try await store.list(prefix: "").isEmpty, "nothing was written")
        }
    }

    @Test("unusual but valid keys work", arguments: StoreKind.allCases)
    func validKeys(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            let longest = [255, 255, 255, 254].map { String(repeating: "k", count: $0) }.joined(separator: "/") + "/k"
            #expect(longest.utf8.count == 1024)
            let keys = ["A-Z_a.z.0-9", "a..b", "x/y-", "-dash", "_under", "0", String(repeating: "n", count: 255), longest]
            for (i, key) in keys.enumerated() {
                try await store.put(key, data: [UInt8(i)])
                #expect(try await store.get(key) == [UInt8(i)])
            }
            #expect(try await store.list(prefix: "").count == keys.count)
            #expect(try await store.list(prefix: longest).map(\.key) == [longest])
            #expect(try await store.list(prefix: String(repeating: "n", count: 255)).count == 1)
            for key in keys { try await store.delete(key) }
        }
    }

    @Test("errors name the object and the store", arguments: StoreKind.allCases)
    func errorDescriptions(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            let error = await expectStoreError(.notFound) { try await store.get("data/missing") }
            #expect(error?.key == "data/missing")
            let text = error?.description ?? ""
            #expect(text.contains("\"data/missing\""))
            #expect(text.contains(store.location))
            #expect(!text.contains("\n"))
            let invalid = await expectStoreError(.invalidKey) { try await store.put("bad\nkey", data: []) }
            #expect(invalid?.description.contains("\n") == false)
        }
    }

    // MARK: concurrency

    @Test("64 concurrent puts of different keys", arguments: StoreKind.allCases)
    func concurrentPutsOfDifferentKeys(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<64 {
                    group.addTask { try await store.put("c/\(i % 4)/obj\(i)", data: randomBytes(1000 + i, seed: UInt64(i))) }
                }
                try await group.waitForAll()
            }
            let listed = try await store.list(prefix: "c/")
            #expect(listed.count == 64)
            for i in 0..<64 {
                #expect(try await store.get("c/\(i % 4)/obj\(i)") == randomBytes(1000 + i, seed: UInt64(i)))
            }
        }
    }

    @Test("concurrent puts to one key: readers and the end result see one whole value", arguments: StoreKind.allCases)
    func concurrentPutsToSameKey(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
            let values = (0..<17).map { randomBytes(256 << 10, seed: 100 + UInt64($0)) }
            try await store.put("same/key", data: values[0])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for value in values.dropFirst() {
                    group.addTask { try await store.put("same/key", data: value) }
                }
                for _ in 0..<4 {
                    group.addTask {
                        for _ in 0..<20 {
                            let seen = try await store.get("same/key")
                            #expect(values.contains(seen), "a reader saw a partial or mixed object")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let final = try await store.get("same/key")
            #expect(values.dropFirst().contains(final))
            #expect(try await store.list(prefix: "") == [ObjectInfo(key: "same/key", size: 256 << 10)])
        }
    }

    @Test("concurrent puts and deletes in one directory do not trip over each other", arguments: StoreKind.allCases)
    func concurrentPutsAndDeletes(kind: StoreKind) async throws {
        try await kind.withStore { (store) throws in
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
            #expect(try await store.list(prefix: "").isEmpty)
            try await store.put("p", data: [1])   // nothing is left below "p"
        }
    }
}
