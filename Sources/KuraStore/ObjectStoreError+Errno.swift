#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ObjectStoreError {
    /// The code for a system-call `errno`: `ENOENT` → notFound, `EACCES`/`EPERM` → permissionDenied,
    /// `ENOSPC`/`EDQUOT` → noSpace, `EROFS` → readOnly, anything else → io.
    static func code(forErrno errno: Int32) -> Code {
        switch errno {
        case ENOENT: return .notFound
        case EACCES, EPERM: return .permissionDenied
        case ENOSPC, EDQUOT: return .noSpace
        case EROFS: return .readOnly
        default: return .io
        }
    }

    /// An error for a failed system call, with the code mapped from its errno (unless `code` overrides it)
    /// and a message like `cannot open: No such file or directory (openat, errno 2)`.
    init(_ failure: SystemCallError, doing what: String, key: String?, location: String, code: Code? = nil) {
        self.init(code ?? Self.code(forErrno: failure.errno), key: key, location: location,
                  message: "\(what): \(SystemCall.describe(failure.errno)) (\(failure.call), errno \(failure.errno))",
                  errno: failure.errno)
    }
}
