import CKuraSystem
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing extended attributes (including POSIX ACLs, which Linux stores as xattrs).
public enum ExtendedAttributes {
    /// All attributes of an open file or directory.
    public static func read(fd: Int32, path: [UInt8]) throws -> [(name: [UInt8], value: [UInt8])] {
        try readAll(path: path,
                    list: { buf, size in flistxattr(fd, buf, size) },
                    get: { name, buf, size in fgetxattr(fd, name, buf, size) })
    }

    /// All attributes of `path` itself (not following a final symlink).
    public static func read(linkPath: [UInt8], displayPath: [UInt8]) throws -> [(name: [UInt8], value: [UInt8])] {
        try withCPath(linkPath) { p in
            try readAll(path: displayPath,
                        list: { buf, size in llistxattr(p, buf, size) },
                        get: { name, buf, size in lgetxattr(p, name, buf, size) })
        }
    }

    private static func readAll(path: [UInt8],
                                list: (UnsafeMutablePointer<CChar>?, Int) -> Int,
                                get: (UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int) throws -> [(name: [UInt8], value: [UInt8])] {
        let size = list(nil, 0)
        if size < 0 {
            if errno == ENOTSUP || errno == ENODATA { return [] }
            throw FileSystemError("listxattr", path: path, errno: errno)
        }
        if size == 0 { return [] }
        var names = [CChar](repeating: 0, count: size + 256)
        let n = names.withUnsafeMutableBufferPointer { list($0.baseAddress, $0.count) }
        guard n >= 0 else { throw FileSystemError("listxattr", path: path, errno: errno) }
        var out: [(name: [UInt8], value: [UInt8])] = []
        var start = 0
        for i in 0..<n where names[i] == 0 {
            let name = names[start..<i].map { UInt8(bitPattern: $0) }
            start = i + 1
            if name.isEmpty { continue }
            let value: [UInt8]? = withCPath(name) { cname in
                let vsize = get(cname, nil, 0)
                guard vsize >= 0 else { return nil }
                var v = [UInt8](repeating: 0, count: vsize + 1)
                let got = v.withUnsafeMutableBytes { get(cname, $0.baseAddress, $0.count) }
                guard got >= 0 else { return nil }
                return Array(v[0..<got])
            }
            if let value { out.append((name, value)) }
        }
        return out.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// Sets one attribute on an open file or directory.
    public static func set(fd: Int32, name: [UInt8], value: [UInt8], path: [UInt8]) throws {
        let rc = withCPath(name) { n in value.withUnsafeBytes { fsetxattr(fd, n, $0.baseAddress, $0.count, 0) } }
        guard rc == 0 else { throw FileSystemError("setxattr \(String(decoding: name, as: UTF8.self))", path: path, errno: errno) }
    }

    /// Sets one attribute on `linkPath` itself (not following a final symlink).
    public static func set(linkPath: [UInt8], name: [UInt8], value: [UInt8], displayPath: [UInt8]) throws {
        let rc = withCPath(linkPath) { p in withCPath(name) { n in value.withUnsafeBytes { lsetxattr(p, n, $0.baseAddress, $0.count, 0) } } }
        guard rc == 0 else { throw FileSystemError("setxattr \(String(decoding: name, as: UTF8.self))", path: displayPath, errno: errno) }
    }
}
