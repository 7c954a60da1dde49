import CKuraSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: its name and `errno`.
struct SystemCallError: Error, Sendable {
    /// The call, for example `openat`.
    var call: String
    /// The `errno` it set.
    var errno: Int32
}

/// Thin wrappers over the system calls ``LocalStore`` uses: retry on `EINTR`, loop over short reads and
/// writes, and turn `-1` into a thrown ``SystemCallError``.
enum SystemCall {
    /// `struct stat` (spelled here, where no method named `stat` hides it).
    typealias FileStatus = stat

    /// Runs `body` until it does not fail with `EINTR`; returns its result, or throws the errno of a failure.
    @discardableResult
    static func run<T: FixedWidthInteger & SignedInteger>(_ call: String, _ body: () -> T) throws(SystemCallError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let error = errno
            if error != EINTR { throw SystemCallError(call: call, errno: error) }
        }
    }

    /// Reads `count` bytes at `offset` with `pread`, looping over short reads. Returns fewer bytes only if the
    /// file ends first.
    static func read(_ fd: Int32, offset: Int, count: Int) throws(SystemCallError) -> [UInt8] {
        guard count > 0 else { return [] }
        var failure: SystemCallError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            while initialized < count {
                let base = buffer.baseAddress! + initialized
                let wanted = count - initialized
                let got = pread(fd, base, wanted, off_t(offset + initialized))
                if got < 0 {
                    let error = errno
                    if error == EINTR { continue }
                    failure = SystemCallError(call: "pread", errno: error)
                    return
                }
                if got == 0 { return }   // end of file
                initialized += got
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Writes all of `bytes` at offset 0 with `pwrite`, looping over short writes (a nearly full disk
    /// accepts part of a write and fails the next one with `ENOSPC`).
    static func write(_ fd: Int32, _ bytes: [UInt8]) throws(SystemCallError) {
        var failure: SystemCallError?
        bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let base = buffer.baseAddress! + written
                let remaining = buffer.count - written
                let count = pwrite(fd, base, remaining, off_t(written))
                if count < 0 {
                    let error = errno
                    if error == EINTR { continue }
                    failure = SystemCallError(call: "pwrite", errno: error)
                    return
                }
                written += count
            }
        }
        if let failure { throw failure }
    }

    /// Closes `fd`, ignoring errors: for descriptors that were only read, or on paths that already failed.
    static func closeQuietly(_ fd: Int32) {
        _ = close(fd)   // never retried: on Linux the descriptor is gone even after EINTR
    }

    /// Whether `mode` (from `stat`) is a regular file.
    static func isRegularFile(_ mode: mode_t) -> Bool { mode & S_IFMT == S_IFREG }

    /// Whether `mode` (from `stat`) is a directory.
    static func isDirectory(_ mode: mode_t) -> Bool { mode & S_IFMT == S_IFDIR }

    /// The `strerror` text for `errno`.
    static func describe(_ errno: Int32) -> String { String(cString: strerror(errno)) }
}
