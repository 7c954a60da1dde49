/// POSIX ACLs as Linux stores them in the `system.posix_acl_access` and `system.posix_acl_default`
/// extended attributes, turned into the text form GNU tar (and star) keep in the pax records
/// `SCHILY.acl.access` and `SCHILY.acl.default`: one `tag:qualifier:perms` entry per line,
/// e.g. `user::rw-\nuser:1000:r--\ngroup::r--\nmask::r--\nother::r--\n`.
///
/// `tar --acls -x` applies only those text records (it ignores the raw attributes), so an archive
/// without them loses its ACLs. Named users and groups are written by number (`user:1000:r--`):
/// that is what the binary form holds, `acl_from_text` accepts it, and it does not depend on the
/// names that exist where the archive is made or read (restic and kura restore ACLs by number too).
enum PosixACL {
    /// The pax keyword for an extended attribute holding an ACL, or nil for any other attribute.
    static func textKeyword(forAttribute name: String) -> String? {
        switch name {
        case "system.posix_acl_access": return "SCHILY.acl.access"
        case "system.posix_acl_default": return "SCHILY.acl.default"
        default: return nil
        }
    }

    /// The text form of a binary ACL attribute (version 2, then 8-byte entries: u16 tag, u16 perm,
    /// u32 id, all little-endian), or nil when the value is not a well-formed ACL.
    static func text(fromAttribute value: [UInt8]) -> String? {
        guard value.count >= 4, (value.count - 4) % 8 == 0 else { return nil }
        func u16(_ i: Int) -> UInt16 { UInt16(value[i]) | UInt16(value[i + 1]) << 8 }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
        guard u32(0) == 2 else { return nil }
        var text = ""
        var i = 4
        while i < value.count {
            let tag = u16(i), perm = u16(i + 2), id = u32(i + 4)
            let qualifier: String
            switch tag {
            case 0x01: qualifier = "user:"
            case 0x02: qualifier = "user:\(id)"
            case 0x04: qualifier = "group:"
            case 0x08: qualifier = "group:\(id)"
            case 0x10: qualifier = "mask:"
            case 0x20: qualifier = "other:"
            default: return nil
            }
            guard perm & ~0o7 == 0 else { return nil }
            text += qualifier + ":" + (perm & 4 != 0 ? "r" : "-") + (perm & 2 != 0 ? "w" : "-") + (perm & 1 != 0 ? "x" : "-") + "\n"
            i += 8
        }
        return text
    }
}
