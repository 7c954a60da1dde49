#if canImport(Glibc)
import Glibc
#endif

extension Descriptor {
    /// Removes the entry `name` of this folder, whatever it is: a file, a symlink (the link itself,
    /// never what it points to) or a folder with everything inside it.
    ///
    /// Every step is an `*at` call relative to a folder descriptor opened with `O_NOFOLLOW |
    /// O_DIRECTORY`, so a symlink anywhere below (or one swapped in meanwhile) is removed as a link and
    /// never followed out of the folder. It does not cross into another filesystem (a mount point
    /// below is reported, not emptied), like `rm --one-file-system`. Missing entries are not an error.
    /// `path` is for messages.
    public func removeEntry(_ name: [UInt8], path: [UInt8]) throws {
        let parent = try statDescriptor(fd, path: self.path)
        try removeEntry(name, path: path, device: parent.device)
    }

    private func removeEntry(_ name: [UInt8], path: [UInt8], device: UInt64) throws {
        let c = name.map { CChar(bitPattern: $0) } + [0]
        if unlinkat(fd, c, 0) == 0 || errno == ENOENT { return }
        // Linux says EISDIR for a folder (POSIX allows EPERM): only then go inside.
        guard errno == EISDIR || errno == EPERM else { throw FileSystemError("remove", path: path, errno: errno) }
        let firstErrno = errno
        let sub: Descriptor
        do { sub = try Descriptor.openDirectory(name, in: self, path: path) } catch let e as FileSystemError where e.errno == ENOTDIR || e.errno == ELOOP {
            throw FileSystemError("remove", path: path, errno: firstErrno)  // not a folder after all
        }
        let status = try statDescriptor(sub.fd, path: path)
        guard status.device == device else { throw FileSystemError("remove (another filesystem is mounted here)", path: path, errno: EXDEV) }
        _ = fchmod(sub.fd, 0o700)  // it is going away; a read-only folder must still be emptied
        for child in try sub.directoryEntries() {
            try sub.removeEntry(child, path: joinPath(path, child), device: device)
        }
        guard unlinkat(fd, c, AT_REMOVEDIR) == 0 || errno == ENOENT else { throw FileSystemError("remove folder", path: path, errno: errno) }
    }
}
