import Foundation

/// A new, empty, uniquely named folder under the system's temporary folder. It is removed by
/// ``remove()`` or, at the latest, when the last reference goes away.
public final class TemporaryFolder: Sendable {
    public let url: URL
    public var path: String { url.path }

    /// - Parameter prefix: the start of the folder's name (says which suite left it, should one stay behind).
    public init(_ prefix: String = "kura-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { remove() }

    /// The path of `name` inside the folder.
    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes an executable shell script (`#!/bin/sh`, then `body`) and returns its path.
    public func script(_ name: String, _ body: String) throws -> String {
        let path = file(name)
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}
