import Foundation
import KuraChunker
import KuraFileSystem
@testable import KuraRepository
import KuraStore
import Testing

/// A fast-to-open repository for tests: scrypt cost lowered (the CLI never does this) and small
/// chunks so that modest files span many chunks.
func makeRepository(store: any ObjectStore = MemoryStore(), password: String = "correct horse",
                    chunker: ChunkerParameters = ChunkerParameters(minSize: 4 << 10, averageSize: 16 << 10, maxSize: 64 << 10),
                    packSize: Int = 1 << 20) async throws -> Repository {
    var options = InitOptions()
    options.kdfCost = (n: 1 << 10, r: 8, p: 1)
    options.chunker = chunker
    options.packSize = packSize
    return try await Repository.initialize(store: store, password: Array(password.utf8), options: options)
}

/// A temporary folder removed at the end of the test.
final class TemporaryFolder {
    let path: String
    init(_ name: String = "kura-test") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) -> String { path + "/" + name }
}

/// Deterministic pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E3779B97F4A7C15
    var out = [UInt8](); out.reserveCapacity(count + 8)
    while out.count < count {
        state = state &+ 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        z ^= z >> 31
        withUnsafeBytes(of: z) { out.append(contentsOf: $0) }
    }
    return Array(out.prefix(count))
}

/// Writes bytes to a path given as raw bytes.
func writeFile(_ path: [UInt8], _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC, mode) }
    guard fd >= 0 else { throw FileSystemError("open", path: path, errno: errno) }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
        guard n > 0 else { throw FileSystemError("write", path: path, errno: errno) }
        done += n
    }
}

func readFile(_ path: [UInt8]) -> [UInt8]? {
    let fd = path.withCString { open($0, O_RDONLY) }
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

extension Array where Element == UInt8 {
    /// Calls `body` with a NUL-terminated C string of these bytes.
    func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        var z = self; z.append(0)
        return try z.withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// True when the file system under `dir` accepts user.* extended attributes.
func supportsUserXattrs(_ dir: String) -> Bool {
    let probe = bytes(dir + "/.xattr-probe")
    try? writeFile(probe, [1])
    defer { _ = probe.withCString { unlink($0) } }
    do { try ExtendedAttributes.set(linkPath: probe, name: bytes("user.probe"), value: [1], displayPath: probe); return true } catch { return false }
}
