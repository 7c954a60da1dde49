#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KuraTar
import Testing
import KuraTestSupport

/// GNU tar extracting archives written by `TarWriter`.
@Suite struct GNUTarExtractionTests {
    /// Extracts the sample archive into a fresh directory with `options` and returns it.
    static func extract(_ options: [String] = []) throws -> TemporaryFolder {
        let scratch = try TemporaryFolder("kuratar")
        let archivePath = scratch.file("sample.tar")
        try Data(try SampleArchive.archive()).write(to: URL(fileURLWithPath: archivePath))
        let target = scratch.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        let result = try run(["tar"] + options + ["-xf", archivePath, "-C", target])
        #expect(result.status == 0, "tar -x failed: \(result.err)")
        return scratch
    }

    static func fileType(_ kind: TarEntry.Kind) -> mode_t {
        switch kind {
        case .file, .hardLink: return S_IFREG
        case .directory: return S_IFDIR
        case .symlink: return S_IFLNK
        case .fifo: return S_IFIFO
        case .characterDevice: return S_IFCHR
        case .blockDevice: return S_IFBLK
        }
    }

    @Test(.enabled(if: RawFileSystem.isRoot, "device nodes and ownership can only be restored as root"))
    func extractsContentsModesTimesAndLinks() throws {
        let scratch = try GNUTarExtractionTests.extract()
        defer { scratch.remove() }
        let root = scratch.file("out")
        for member in SampleArchive.members {
            let entry = member.entry
            let name = String(decoding: entry.path, as: UTF8.self)
            let path = RawFileSystem.path(root, entry.path)
            let info = try RawFileSystem.lstat(path)
            #expect(info.st_mode & S_IFMT == GNUTarExtractionTests.fileType(entry.kind), "\(name)")
            if entry.kind != .symlink {
                #expect(UInt32(info.st_mode & 0o7777) == entry.mode, "\(name): mode \(String(info.st_mode & 0o7777, radix: 8))")
            }
            #expect(Int64(info.st_mtim.tv_sec) == entry.modificationSeconds, "\(name)")
            #expect(UInt32(info.st_mtim.tv_nsec) == entry.modificationNanoseconds, "\(name)")
            #expect(info.st_uid == entry.uid, "\(name)")
            #expect(info.st_gid == entry.gid, "\(name)")
            switch entry.kind {
            case .file:
                #expect(try RawFileSystem.read(path) == member.contents, "\(name)")
            case .symlink:
                #expect(try RawFileSystem.readLink(path) == entry.linkTarget, "\(name)")
            case .hardLink:
                let target = try RawFileSystem.lstat(RawFileSystem.path(root, entry.linkTarget))
                #expect(info.st_ino == target.st_ino, "\(name) is not the same inode as its target")
                #expect(info.st_nlink == 2)
            case .characterDevice, .blockDevice:
                let numbers = RawFileSystem.deviceNumbers(info.st_rdev)
                #expect(numbers.major == entry.deviceMajor && numbers.minor == entry.deviceMinor, "\(name)")
            case .directory, .fifo:
                break
            }
        }
        // The 3 MiB file really is 3 MiB of the expected bytes.
        let big = try RawFileSystem.read(RawFileSystem.path(root, bytes("top/big.bin")))
        #expect(big.count == 3 * 1024 * 1024)
        #expect(big == SampleArchive.bigContents)
    }

    @Test(.enabled(if: RawFileSystem.supportsUserXattrs, "the temporary filesystem refuses user.* extended attributes"))
    func extractsExtendedAttributes() throws {
        let scratch = try GNUTarExtractionTests.extract(["--xattrs", "--xattrs-include=user.*"])
        defer { scratch.remove() }
        let path = scratch.file("out/top/xattr")
        #expect(try RawFileSystem.xattr(path, "user.kura") == SampleArchive.xattrValue)
        #expect(try RawFileSystem.xattr(path, "user.odd=name%") == bytes("plain"))
        #expect(try RawFileSystem.xattr(path, "user.empty") == [])
    }
}
