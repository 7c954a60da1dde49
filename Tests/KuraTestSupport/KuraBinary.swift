import Foundation

/// The `kura` executable built with the tests (a test target that runs it depends on the `kura`
/// target, so it is up to date).
public enum KuraBinary {
    public static let url: URL = locate()
    public static var path: String { url.path }

    private static func isExecutableFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isExecutableFile(atPath: url.path)
    }

    private static func locate() -> URL {
        var candidates: [URL] = []
        // 1. Next to the running test product (.build/<triple>/<configuration>/).
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent("kura"))
        }
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("kura"))
        }
        // 2. The package's default build folder, found from this source file (Tests/KuraTestSupport/).
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/kura"))
        if let found = candidates.first(where: isExecutableFile) { return found }
        // 3. Ask SwiftPM where it puts products.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift", "build", "--show-bin-path"]
        process.currentDirectoryURL = packageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        if (try? process.run()) != nil {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let binPath = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let url = URL(fileURLWithPath: binPath).appendingPathComponent("kura")
            if isExecutableFile(url) { return url }
        }
        return packageRoot.appendingPathComponent(".build/debug/kura")  // fails visibly in the first run
    }
}
