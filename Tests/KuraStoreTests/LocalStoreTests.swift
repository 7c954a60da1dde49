import Foundation
@testable import KuraStore
import KuraStoreTesting
import Testing
import KuraTestSupport

/// What only a file-system store has: modes, temporary files, durability paths, full and read-only disks.
@Suite("LocalStore")
struct LocalStoreTests {
    @Test("large objects are written around the page cache (direct I/O) with their exact length and bytes, odd sizes included")
    func directWrites() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        let store = try LocalStore(path: scratch.path + "/store", create: true)
        for size in [1 << 20, 1 << 20 + 1, 3 << 20 + 4095, 5 << 20 + 12_345] {
            let bytes = randomBytes(size, seed: UInt64(size))
            try await store.put("data/ab/size\(size)", data: bytes)
            // Around the page cache: the object just written has (almost) nothing resident (fincore,
            // util-linux; checked before it is read back, which brings it in).
            let path = scratch.path + "/store/data/ab/size\(size)"
            let fincore = try TestProcess.command(["fincore", "--bytes", "--noheadings", "--output", "RES", path])
            if fincore.status == 0, let resident = Int(fincore.out.trimmingCharacters(in: .whitespacesAndNewlines)) {
                #expect(resident <= 8192, "\(resident) bytes of a direct-written \(size)-byte object are in the page cache")
            }
            #expect(try await store.get("data/ab/size\(size)") == bytes)
            #expect(try await store.stat("data/ab/size\(size)").size == size)
            var st = stat()
            #expect(stat(path, &st) == 0 && Int(st.st_size) == size)
        }
        #expect(try FolderContents.temporaryFiles(below: scratch.path + "/store").isEmpty)
    }

    @Test("opening a missing root without create is notFound")
    func missingRoot() throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        do {
            _ = try LocalStore(path: scratch.path + "/nope")
            Issue.record("opened a missing root")
        } catch let error as ObjectStoreError {
            #expect(error.code == .notFound)
            #expect(error.errno == ENOENT)
            #expect(error.description.contains(scratch.path + "/nope"))
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/nope"), "opening must not create")
        _ = FileManager.default.createFile(atPath: scratch.path + "/file", contents: Data())
        #expect(throws: ObjectStoreError.self) { try LocalStore(path: scratch.path + "/file") }
    }

    @Test("objects persist across instances; create on an existing root keeps it")
    func reopen() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        let path = scratch.path + "/deep/er/store"
        try await LocalStore(path: path, create: true).put("data/x", data: [1, 2, 3])
        #expect(try await LocalStore(path: path).get("data/x") == [1, 2, 3])
        #expect(try await LocalStore(path: path, create: true).list(prefix: "") == [ObjectInfo(key: "data/x", size: 3)])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path + "/data/x")) == Data([1, 2, 3]), "plain files")
    }

    @Test("files are 0600 and directories 0700 whatever the umask")
    func modes() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        // The umask is per process and tests run in parallel: 0o777 (which would expose a missing chmod) only as
        // root, where the directories other tests create meanwhile stay usable.
        for mask: mode_t in geteuid() == 0 ? [0, 0o022, 0o777] : [0, 0o022] {
            let old = umask(mask)
            defer { umask(old) }
            let root = scratch.path + "/umask\(mask)/store"
            let store = try LocalStore(path: root, create: true)
            try await store.put("a/b/c", data: [1])
            try await store.put("a/b/c", data: [2])   // a replacement too
            try await store.put("top", data: [])
            let why = Comment(rawValue: "umask \(String(mask, radix: 8))")
            #expect(try FolderContents.mode(of: scratch.path + "/umask\(mask)") == 0o700, why)
            #expect(try FolderContents.mode(of: root) == 0o700, why)
            #expect(try FolderContents.mode(of: root + "/a") == 0o700, why)
            #expect(try FolderContents.mode(of: root + "/a/b") == 0o700, why)
            #expect(try FolderContents.mode(of: root + "/a/b/c") == 0o600, why)
            #expect(try FolderContents.mode(of: root + "/top") == 0o600, why)
        }
    }

    @Test("no temporary files are left after puts")
    func noTemporaryFiles() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        let store = try LocalStore(path: scratch.path, create: true)
        for i in 0..<20 { try await store.put("d/\(i % 3)/k\(i % 5)", data: testBytes(i * 100, seed: UInt64(i))) }
        try await store.put("x", data: [1])
        try await expectStoreError(.alreadyExists) { try await store.put("x/y", data: [2]) }
        try await expectStoreError(.alreadyExists) { try await store.put("d", data: [2]) }
        #expect(try FolderContents.temporaryFiles(below: scratch.path) == [])
        #expect(try await store.list(prefix: "").count == 16)
    }

    @Test("a put that fails at any step leaves the previous object intact and no temporary file",
          arguments: LocalStore.PutStep.allCases)
    func failedPut(step: LocalStore.PutStep) async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        let old = testBytes(3000, seed: 7)
        try await LocalStore(path: scratch.path, create: true).put("dir/obj", data: old)
        struct Injected: Error {}
        let failing = try LocalStore(path: scratch.path, create: false) { current in
            if current == step { throw Injected() }
        }
        await #expect(throws: Injected.self) { try await failing.put("dir/obj", data: testBytes(5000, seed: 8)) }
        await #expect(throws: Injected.self) { try await failing.put("dir/new", data: [1]) }
        #expect(try await failing.get("dir/obj") == old)
        try await expectStoreError(.notFound) { try await failing.stat("dir/new") }
        #expect(try await failing.list(prefix: "") == [ObjectInfo(key: "dir/obj", size: 3000)])
        #expect(try FolderContents.temporaryFiles(below: scratch.path) == [])
    }

    @Test("stray files are not objects: temporary files, foreign names, symbolic links, empty directories")
    func strayEntries() async throws {
        let scratch = try TemporaryFolder("kura-store-tests")
        defer { scratch.remove() }
        let store = try LocalStore(path: scratch.path, create: true)
        try await store.put("d/real", data: [1])
        let files = FileManager.default
        _ = files.createFile(atPath: scratch.path + "/d/.tmp-deadbeef", contents: Data([9]))
        _ = files.createFile(atPath: scratch.path + "/d/with space", contents: Data([9]))
        try files.createSymbolicLink(atPath: scratch.path + "/d/link", withDestinationPath: "real")
        try files.createDirectory(atPath: scratch.path + "/empty/dirs", withIntermediateDirectories: true)
        #expect(try FolderContents.temporaryFiles(below: scratch.path) == ["d/.tmp-deadbeef"], "the test sees dot files")

        #expect(try await store.list(prefix: "") == [ObjectInfo(key: "d/real", size: 1)])
        try await expectStoreError(.notFound) { try await store.get("d/link") }
        try await expectStoreError(.notFound) { try await store.stat("d/link") }
        try await expectStoreError(.notFound) { try await store.get("empty/dirs") }
        try await store.put("empty/dirs", data: [2])   // an empty directory in the way is removed
        #expect(try await store.get("empty/dirs") == [2])
    }

    // MARK: full and read-only file systems

    @Test("a full disk fails the put with noSpace and keeps the old object",
          .enabled(if: TmpfsMount.isPermitted, "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"))
    func fullDisk() async throws {
        let mount = try TmpfsMount(options: "size=1m")
        defer { mount.unmount() }
        let store = try LocalStore(path: mount.path + "/store", create: true)
        let old = testBytes(4096, seed: 9)
        try await store.put("data/obj", data: old)

        let error = try await expectStoreError(.noSpace) { try await store.put("data/obj", data: testBytes(2 << 20, seed: 10)) }
        #expect(error.errno == ENOSPC)
        #expect(error.description.contains("No space left on device"))
        #expect(try await store.get("data/obj") == old)
        try await expectStoreError(.noSpace) { try await store.put("data/big", data: testBytes(2 << 20, seed: 11)) }
        try await expectStoreError(.notFound) { try await store.stat("data/big") }
        #expect(try FolderContents.temporaryFiles(below: mount.path) == [])
        #expect(try await store.list(prefix: "") == [ObjectInfo(key: "data/obj", size: 4096)])
        try await store.put("data/small", data: [1])   // space was given back
    }

    @Test("a read-only file system fails writes with readOnly; reads still work",
          .enabled(if: TmpfsMount.isPermitted, "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)"))
    func readOnly() async throws {
        let mount = try TmpfsMount(options: "size=1m")
        defer { mount.unmount() }
        let store = try LocalStore(path: mount.path + "/store", create: true)
        try await store.put("data/obj", data: [1, 2, 3])
        try mount.remountReadOnly()

        let error = try await expectStoreError(.readOnly) { try await store.put("data/other", data: [4]) }
        #expect(error.errno == EROFS)
        try await expectStoreError(.readOnly) { try await store.put("data/obj", data: [4]) }
        try await expectStoreError(.readOnly) { try await store.put("new/dir/obj", data: [4]) }
        try await expectStoreError(.readOnly) { try await store.delete("data/obj") }
        try await expectStoreError(.readOnly) { _ = try LocalStore(path: mount.path + "/other", create: true) }
        #expect(try await store.get("data/obj") == [1, 2, 3])
        #expect(try await store.list(prefix: "") == [ObjectInfo(key: "data/obj", size: 3)])
    }
}
