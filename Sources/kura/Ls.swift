import ArgumentParser
import Foundation
import KuraRepository
import KuraRestorer

struct Ls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the entries of a snapshot (recursively), or of one folder in it.",
        discussion: """
        Examples:
          kura ls latest                       every entry of the newest snapshot
          kura ls 1a2b3c4d:/srv/app/media      one folder (and below)
          kura ls latest:/srv/app --long --no-recursive
        --long shows the mode as `ls -l` does (s/S for setuid and setgid, t/T for sticky). Control characters in names are shown escaped (as \\u{1B}), so a name cannot drive the terminal. With --json, one JSON object per line (one per entry), so that huge listings stream; names are exact there (JSON-escaped).
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "SNAPSHOT[:PATH]") var target: String
    @Flag(name: [.customShort("l"), .long], help: "Show mode, owner, size and time.") var long = false
    @Flag(name: .long, inversion: .prefixedNo, help: "Descend into folders.") var recursive = true

    func run() async throws {
        try await runReportingErrors(json: global.json) {
            let repo = try await global.openRepository()
            let (ref, path) = SnapshotBrowser.split(target)
            let browser = SnapshotBrowser(repository: repo, snapshot: try await repo.findSnapshot(ref))
            let entry = try await browser.entry(at: path)
            func emit(_ e: SnapshotEntry) throws {
                guard let n = e.node else { return }
                if global.json {
                    try Terminal.json(EntryJSON(n, path: e.path))
                } else if long {
                    let time = Date(timeIntervalSince1970: TimeInterval(n.mtime.seconds))
                    let f = DateFormatter(); f.dateFormat = "yyyy-MM-dd HH:mm:ss"
                    let owner = "\(n.user.isEmpty ? String(n.uid) : n.user)/\(n.group.isEmpty ? String(n.gid) : n.group)"
                    // Names come from the backed-up machine: escape control characters, so that a name
                    // cannot drive the terminal (--json keeps them exact).
                    print(Terminal.escapingControls("\(EntryJSON.modeString(n)) \(owner.padding(toLength: 14, withPad: " ", startingAt: 0)) \(String(n.size).leftPad(12)) \(f.string(from: time)) \(PathBytes.display(e.path))\(n.type == .symlink ? " -> " + PathBytes.display(n.linkTarget) : "")", keepingLayout: false))
                } else {
                    print(Terminal.escapingControls(PathBytes.display(e.path), keepingLayout: false))
                }
            }
            try emit(entry)
            if !entry.isDirectory { return 0 }
            try await browser.walk(entry) { child in try emit(child); return recursive }
            return 0
        }
    }
}

/// One entry as JSON (ls, diff).
struct EntryJSON: Encodable {
    var path: String
    var name: String
    var type: String
    var mode: String
    var uid: UInt32, gid: UInt32
    var user: String, group: String
    var size: UInt64
    var mtime: String
    var linkTarget: String?

    init(_ n: Node, path: [UInt8]) {
        self.path = PathBytes.display(path); name = n.displayName; type = n.type.description
        mode = String(n.mode, radix: 8); uid = n.uid; gid = n.gid; user = n.user; group = n.group; size = n.size
        mtime = Timestamp.format(seconds: n.mtime.seconds, nanoseconds: n.mtime.nanoseconds)
        linkTarget = n.type == .symlink ? PathBytes.display(n.linkTarget) : nil
    }

    static func modeString(_ n: Node) -> String {
        let t: Character = switch n.type {
        case .directory: "d"
        case .symlink: "l"
        case .fifo: "p"
        case .characterDevice: "c"
        case .blockDevice: "b"
        case .socket: "s"
        case .file: "-"
        }
        var s = String(t)
        let chars = Array("rwxrwxrwx")
        for i in 0..<9 { s.append(n.mode & (1 << (8 - i)) != 0 ? chars[i] : "-") }
        // setuid, setgid and sticky take the place of an x, as in `ls -l`: lower case when the x bit
        // is set too (s, t), upper case when it is not (S, T).
        var a = Array(s)
        for (bit, index, letter) in [(UInt32(0o4000), 3, "s"), (0o2000, 6, "s"), (0o1000, 9, "t")] as [(UInt32, Int, String)] where n.mode & bit != 0 {
            a[index] = Character(a[index] == "x" ? letter : letter.uppercased())
        }
        return String(a)
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
