#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KuraTestSupport

/// POSIX file operations on raw-byte paths (which need not be UTF-8), for the tests.
enum RawFileSystem {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `directory/path` as a NUL-terminated C string.
    static func path(_ directory: String, _ path: [UInt8]) -> [CChar] {
        (Array(directory.utf8) + [UInt8(ascii: "/")] + path + [0]).map { CChar(bitPattern: $0) }
    }

    private static func failure(_ call: String, _ path: [CChar]) -> Failure {
        let text = String(decoding: path.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Failure(description: "\(call)(\(text)): \(String(cString: strerror(errno)))")
    }

    static func lstat(_ path: [CChar]) throws -> stat {
        var info = stat()
        guard Glibc.lstat(path, &info) == 0 else { throw failure("lstat", path) }
        return info
    }

    static func read(_ path: [CChar]) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count >= 0 else { throw failure("read", path) }
            if count == 0 { return result }
            result += chunk[0..<count]
        }
    }

    static func write(_ path: [CChar], _ contents: [UInt8], mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        let written = contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == contents.count else { throw failure("write", path) }
    }

    static func readLink(_ path: [CChar]) throws -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count)
        guard count >= 0 else { throw failure("readlink", path) }
        return buffer[0..<count].map { UInt8(bitPattern: $0) }
    }

    /// An extended attribute's value, read through python3 (Glibc's module has no xattr calls).
    static func xattr(_ path: String, _ name: String) throws -> [UInt8] {
        let script = "import os, sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False))"
        let result = try run(["python3", "-c", script, path, name])
        guard result.status == 0 else { throw Failure(description: "getxattr \(name) on \(path): \(result.err)") }
        return Array(result.stdout)
    }

    /// Sets an extended attribute through python3.
    static func setXattr(_ path: String, _ name: String, _ value: [UInt8]) throws {
        let script = "import os, sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), follow_symlinks=False)"
        let result = try run(["python3", "-c", script, path, name, hexString(value)])
        guard result.status == 0 else { throw Failure(description: "setxattr \(name) on \(path): \(result.err)") }
    }

    static func setTimes(_ path: [CChar], seconds: Int64, nanoseconds: Int) throws {
        let time = timespec(tv_sec: Int(seconds), tv_nsec: nanoseconds)
        let times = [time, time]
        guard utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) == 0 else { throw failure("utimensat", path) }
    }

    static func makeDirectory(_ path: [CChar], mode: mode_t = 0o755) throws {
        guard mkdir(path, mode) == 0 else { throw failure("mkdir", path) }
        guard chmod(path, mode) == 0 else { throw failure("chmod", path) }
    }

    static func makeSymlink(_ path: [CChar], target: [UInt8]) throws {
        let cTarget = (target + [0]).map { CChar(bitPattern: $0) }
        guard symlink(cTarget, path) == 0 else { throw failure("symlink", path) }
    }

    static func makeHardLink(_ path: [CChar], to existing: [CChar]) throws {
        guard link(existing, path) == 0 else { throw failure("link", path) }
    }

    static func makeFifo(_ path: [CChar], mode: mode_t) throws {
        guard mkfifo(path, mode) == 0 else { throw failure("mkfifo", path) }
        guard chmod(path, mode) == 0 else { throw failure("chmod", path) }
    }

    static func setMode(_ path: [CChar], _ mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw failure("chmod", path) }
    }

    /// Linux `major()`/`minor()` of a device number.
    static func deviceNumbers(_ device: dev_t) -> (major: UInt32, minor: UInt32) {
        let value = UInt64(device)
        let major = ((value >> 8) & 0xFFF) | ((value >> 32) & ~0xFFF)
        let minor = (value & 0xFF) | ((value >> 12) & ~0xFF)
        return (UInt32(truncatingIfNeeded: major), UInt32(truncatingIfNeeded: minor))
    }

    /// Whether the temporary directory's filesystem accepts `user.*` extended attributes.
    static let supportsUserXattrs: Bool = {
        guard let scratch = try? TemporaryFolder() else { return false }
        defer { scratch.remove() }
        guard (try? write(path(scratch.path, Array("probe".utf8)), [])) != nil else { return false }
        return (try? setXattr(scratch.file("probe"), "user.kura-probe", [1])) != nil
    }()

    static var isRoot: Bool { geteuid() == 0 }
}
