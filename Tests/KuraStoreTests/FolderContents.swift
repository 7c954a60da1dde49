import Foundation
import KuraTestSupport

/// What a store left in a folder (the folders themselves are KuraTestSupport's `TemporaryFolder`).
enum FolderContents {
    /// Every entry below `path` (hidden ones included), as paths relative to it.
    static func entries(below path: String) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: path).sorted()
    }

    /// Entries below `path` whose last component is a store's temporary file.
    static func temporaryFiles(below path: String) throws -> [String] {
        try entries(below: path).filter { $0.split(separator: "/").last?.hasPrefix(".tmp-") == true }
    }

    /// The permission bits of `path`.
    static func mode(of path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}
