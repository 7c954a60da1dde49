import KuraTar
import KuraTestSupport

/// One archive holding every kind of entry and every field that needs a pax record,
/// shared by the GNU tar, python3 and round-trip tests.
enum SampleArchive {
    static let base: Int64 = 1_700_000_000  // 2023-11-14 22:13:20 UTC

    static let helloContents = bytes("hello, kura\n")
    static let bigContents = randomBytes(3 * 1024 * 1024, seed: 42)
    /// A path of exactly 250 bytes with one 246-byte component: cannot use the ustar split.
    static let longPath = bytes("top/" + String(repeating: "x", count: 246))
    /// A 250-byte path that fits the ustar prefix/name split (prefix 154, name 95).
    static let splitPath = bytes("top/" + String(repeating: "a", count: 150) + "/" + String(repeating: "b", count: 95))
    static let nonUTF8Path: [UInt8] = bytes("top/bad-") + [0xFF, 0xFE, 0x80] + bytes(".bin")
    static let newlinePath = bytes("top/new\nline")
    static let japanesePath = bytes("top/日本語のファイル名.txt")
    static let longUserName = "kura-user-with-a-very-long-name-0123456789"  // 42 bytes
    static let longGroupName = "kura-group-with-a-very-long-name-0123456789"
    static let xattrValue: [UInt8] = bytes("v") + [0x00, 0xFF] + bytes("al=ue%\n")

    static func entry(
        _ path: [UInt8], _ kind: TarEntry.Kind = .file, mode: UInt32? = nil,
        time: (Int64, UInt32) = (base, 0), size: Int = 0, link: String = "",
        uid: UInt32 = 1000, gid: UInt32 = 1000, user: String = "kura-alice", group: String = "kura-staff",
        device: (UInt32, UInt32) = (0, 0), xattrs: [TarEntry.ExtendedAttribute] = []
    ) -> TarEntry {
        TarEntry(
            path: path, kind: kind, mode: mode, uid: uid, gid: gid, userName: user, groupName: group,
            modificationTime: time, size: Int64(size), linkTarget: bytes(link),
            deviceMajor: device.0, deviceMinor: device.1, extendedAttributes: xattrs)
    }

    static func file(_ path: [UInt8], _ contents: [UInt8], mode: UInt32 = 0o644, time: (Int64, UInt32) = (base, 0),
                     uid: UInt32 = 1000, gid: UInt32 = 1000, user: String = "kura-alice", group: String = "kura-staff",
                     xattrs: [TarEntry.ExtendedAttribute] = []) -> Member {
        Member(entry: entry(path, mode: mode, time: time, size: contents.count, uid: uid, gid: gid,
                            user: user, group: group, xattrs: xattrs),
               contents: contents)
    }

    static let members: [Member] = [
        Member(entry: entry(bytes("top"), .directory, mode: 0o755, time: (base, 111_111_111))),
        file(bytes("top/empty"), []),
        file(bytes("top/hello.txt"), helloContents, mode: 0o640, time: (base + 1, 123_456_789)),
        file(bytes("top/big.bin"), bigContents, mode: 0o600, time: (base + 2, 0)),
        Member(entry: entry(bytes("top/link"), .symlink, mode: 0o777, time: (base + 3, 5), link: "hello.txt")),
        Member(entry: entry(bytes("top/hardlink"), .hardLink, mode: 0o640, time: (base + 1, 123_456_789),
                            link: "top/hello.txt")),
        Member(entry: entry(bytes("top/fifo"), .fifo, mode: 0o620, time: (base + 4, 999_999_999))),
        Member(entry: entry(bytes("top/null"), .characterDevice, mode: 0o666, device: (1, 3))),
        Member(entry: entry(bytes("top/loop9"), .blockDevice, mode: 0o660, device: (7, 9))),
        file(longPath, bytes("long path\n")),
        file(splitPath, bytes("split path\n")),
        file(nonUTF8Path, bytes("not utf-8\n")),
        file(newlinePath, bytes("newline\n")),
        file(japanesePath, bytes("日本語\n"), time: (base + 5, 1)),
        file(bytes("top/bigid"), bytes("big ids\n"), uid: 3_000_000, gid: 3_000_001, user: "", group: ""),
        file(bytes("top/longowner"), bytes("long owner\n"), user: longUserName, group: longGroupName),
        file(bytes("top/xattr"), bytes("xattrs\n"), xattrs: [
            .init(name: "user.kura", value: xattrValue),
            .init(name: "user.odd=name%", value: bytes("plain")),
            .init(name: "user.empty", value: []),
        ]),
        file(bytes("top/setuid"), bytes("#!/bin/sh\n"), mode: 0o4755),
        Member(entry: entry(bytes("top/sticky"), .directory, mode: 0o1777, time: (base, 0))),
        Member(entry: entry(bytes("top/sticky/link-to-long"), .symlink, mode: 0o777,
                            link: "../" + String(repeating: "y", count: 150))),
        file(bytes("top/before-epoch"), bytes("old\n"), time: (-2, 500_000_000)),
        file(bytes("top/far-future"), bytes("new\n"), time: (10_000_000_000, 0)),
    ]

    /// The archive bytes for ``members``.
    static func archive() throws -> [UInt8] {
        try writeArchive(members)
    }
}
