import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File-system calls by raw byte path (names need not be UTF-8).
public enum RawFS {
    public static func withPath<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (path + [0]).withUnsafeBufferPointer { buf in
            try buf.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    public static func write(_ path: [UInt8], _ contents: [UInt8], mode: mode_t = 0o644) throws {
        let fd = withPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var done = 0
        while done < contents.count {
            let n = contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, contents.count - done) }
            guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            done += n
        }
        _ = withPath(path) { chmod($0, mode) }
    }

    public static func read(_ path: [UInt8]) throws -> [UInt8] {
        let fd = withPath(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    public static func names(in directory: [UInt8]) -> [[UInt8]] {
        guard let dir = withPath(directory, { opendir($0) }) else { return [] }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name != [46] && name != [46, 46] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    public static func lstatPath(_ path: [UInt8]) -> stat? {
        var st = stat()
        return withPath(path) { lstat($0, &st) } == 0 ? st : nil
    }

    public static func readlinkPath(_ path: [UInt8]) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = withPath(path) { readlink($0, &buffer, buffer.count) }
        return n > 0 ? buffer[0..<n].map { UInt8(bitPattern: $0) } : []
    }
}
