import Foundation

/// Finds live PostgreSQL data directories (a folder with both `PG_VERSION` and `postmaster.pid`)
/// in or around the paths of a directory backup. Copying such a folder file by file while the
/// server runs does not give a backup the server can start from.
public enum LiveDataDirectory {
    /// True when `path` holds PG_VERSION and postmaster.pid.
    public static func isLive(_ path: String) -> Bool {
        var st = stat()
        return lstat(path + "/PG_VERSION", &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            && lstat(path + "/postmaster.pid", &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Live data directories at, above or below the given paths: each path and its parents, and the
    /// folders below it down to `maxDepth` levels (symlinks not followed, /proc, /sys, /dev and /run
    /// skipped, at most `maxFolders` folders looked at in all). Folders that `excludes` (the backup's
    /// --exclude globs: without '/' a name, with '/' an absolute path) leave out are not reported.
    /// Sorted, without duplicates.
    public static func find(in paths: [String], excludes: [String] = [], maxDepth: Int = 6, maxFolders: Int = 20_000) -> [String] {
        func excluded(_ path: String) -> Bool {
            let name = (path as NSString).lastPathComponent
            for p in excludes {
                if p.contains("/") {
                    let pattern = p.count > 1 && p.hasSuffix("/") ? String(p.dropLast()) : p
                    if fnmatch(pattern, path, FNM_PATHNAME) == 0 { return true }
                } else if fnmatch(p, name, 0) == 0 { return true }
            }
            return false
        }
        var found: Set<String> = []
        var budget = maxFolders
        for raw in paths {
            let path = URL(fileURLWithPath: raw).standardizedFileURL.path
            // The path itself and the folders above it (a backup of .../main/base is inside one).
            var up = path
            while true {
                if isLive(up) { found.insert(up) }
                let parent = (up as NSString).deletingLastPathComponent
                if parent == up || parent.isEmpty { break }
                up = parent
            }
            // Below it, breadth first.
            var level = excluded(path) ? [] : [path]
            for _ in 0..<maxDepth where !level.isEmpty && budget > 0 {
                var next: [String] = []
                for dir in level {
                    guard let names = subfolderCandidates(of: dir) else { continue }
                    for (name, known) in names {
                        let child = dir == "/" ? "/" + name : dir + "/" + name
                        if ["/proc", "/sys", "/dev", "/run"].contains(child) { continue }
                        if !known {
                            var st = stat()
                            guard lstat(child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
                        }
                        guard !excluded(child) else { continue }
                        budget -= 1
                        if budget <= 0 { break }
                        if isLive(child) { found.insert(child) } else { next.append(child) }
                    }
                    if budget <= 0 { break }
                }
                level = next
            }
        }
        return found.sorted()
    }

    /// The entries of `dir` that may be folders, from one `readdir` pass: (name, true) when the
    /// directory entry's type says folder, (name, false) when the file system does not say (the caller
    /// lstats those). Files, links and devices are left out without a system call each, so that this
    /// check costs next to nothing on a tree of a million small files (issue 14: it used to lstat
    /// every entry, a fifth of a no-change backup's time).
    static func subfolderCandidates(of dir: String) -> [(String, Bool)]? {
        guard let handle = opendir(dir) else { return nil }
        defer { closedir(handle) }
        var out: [(String, Bool)] = []
        while let entry = readdir(handle) {
            let type = entry.pointee.d_type
            guard type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN) else { continue }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            out.append((name, type == UInt8(DT_DIR)))
        }
        return out
    }

    /// The warning printed for one live data directory.
    public static func warning(for path: String) -> String {
        """
        WARNING: \(path) is a live PostgreSQL data directory (it has PG_VERSION and postmaster.pid).
          Copying its files while the server runs is NOT a consistent backup: the copy may not start, or may silently lose data.
          Back the database up with `kura backup --postgres DSN --all-databases` (consistent logical dumps)
          or `kura backup --postgres-physical DSN` (pg_basebackup), or stop the server (container) before backing up this folder,
          or leave it out with --exclude.
        """
    }
}
