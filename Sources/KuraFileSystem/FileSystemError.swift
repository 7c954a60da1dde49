#if canImport(Glibc)
import Glibc
#endif

/// A failed system call on a path: which call, which path, and errno with its text.
public struct FileSystemError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    /// The path as raw bytes (display with `displayPath`).
    public var path: [UInt8]
    public var errno: Int32

    public init(_ operation: String, path: [UInt8], errno: Int32) {
        self.operation = operation; self.path = path; self.errno = errno
    }

    public var displayPath: String {
        String(decoding: path, as: UTF8.self)
    }

    public var reason: String { String(cString: strerror(errno)) }

    public var description: String { "\(operation) \(displayPath): \(reason)" }

    public var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }
    public var isPermission: Bool { errno == EACCES || errno == EPERM }
}

/// Calls `body` with a NUL-terminated copy of `bytes` (for C calls that take a path or name).
@inline(__always)
public func withCPath<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
    var z = bytes
    z.append(0)
    return try z.withUnsafeBufferPointer { try $0.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) } }
}

/// Joins a directory path and a name with "/".
public func joinPath(_ dir: [UInt8], _ name: [UInt8]) -> [UInt8] {
    if dir.isEmpty { return name }
    if dir.last == 47 { return dir + name }
    return dir + [47] + name
}

import KuraCore

extension FileSystemError: KuraErrorConvertible {
    public var kuraError: KuraError {
        if isNoSpace { return KuraError(.noSpace, description, hint: "free space on the target file system", cause: self) }
        if isPermission { return KuraError(.permissionDenied, description, hint: "check the owner and mode of the path (or run as a user who may read it)", cause: self) }
        switch errno {
        case ENOENT: return KuraError(.notFound, description, cause: self)
        case EROFS: return KuraError(.readOnly, description, cause: self)
        default: return KuraError(.io, description, cause: self)
        }
    }
}
