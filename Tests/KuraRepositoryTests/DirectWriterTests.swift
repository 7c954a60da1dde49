import Foundation
import KuraFileSystem
import Testing
import KuraTestSupport

@Suite("DirectWriter")
struct DirectWriterTests {
    /// Folders to write in: the test folder (ext4 here: direct I/O) and /dev/shm (tmpfs: refused, so
    /// the writer falls back to ordinary writes).
    static let roots = [FileManager.default.temporaryDirectory.path, "/dev/shm"]

    @Test("any length, written in any pieces, reads back byte for byte at its exact size", arguments: roots)
    func roundTrip(root: String) throws {
        guard FileManager.default.isWritableFile(atPath: root) else { return }
        let folder = root + "/kura-direct-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (n, length) in [0, 1, 4095, 4096, 4097, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3_500_000].enumerated() {
            let data = randomBytes(length, seed: UInt64(40 + n))
            let path = "\(folder)/f\(n)"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            #expect(fd >= 0)
            var writer = DirectWriter(fd: fd, path: Array(path.utf8))
            // Uneven pieces: 1 byte, then growing ones, so that pieces straddle the 1 MiB buffer.
            var at = 0, piece = 1
            while at < data.count {
                let end = min(data.count, at + piece)
                try data[at..<end].withUnsafeBytes { try writer.write($0) }
                at = end
                piece = piece * 3 + 7
            }
            try writer.finish()
            let direct = writer.direct
            close(fd)
            #expect(try RawFS.read(Array(path.utf8)) == data, "length \(length) in \(root), direct \(direct)")
        }
    }
}
