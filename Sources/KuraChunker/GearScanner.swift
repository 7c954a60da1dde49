/// The hot loops of the gear hash, shared by the sequential and the parallel chunker.
///
/// The rolling fingerprint after the byte at position `p` is `fp = (fp << 1) &+ gear[data[p]]`.
/// Because every step shifts left by one, a byte's contribution leaves the 64-bit state after 64
/// steps: once 64 bytes have been rolled in, `fp` depends only on the last 64 bytes, whatever state
/// the roll started from.
///
/// Both loops read only the bytes in `[from, to)` and the 256-entry table; callers guarantee that
/// those offsets lie inside their buffer.
enum GearScanner {
    /// Eight table entries, for eight consecutive bytes.
    typealias Entries = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    /// Rolls bytes `[from, to)` into `fp` without testing any position.
    @inline(__always)
    static func roll(
        _ base: UnsafeRawPointer, from: Int, to: Int, fp: UInt64, gear: UnsafePointer<UInt64>
    ) -> UInt64 {
        var h = fp
        var p = from
        while p < to {
            h = (h &<< 1) &+ gear[Int(base.load(fromByteOffset: p, as: UInt8.self))]
            p &+= 1
        }
        return h
    }

    /// The table entries of the eight bytes at `offset ..< offset + 8`.
    @inline(__always)
    static func entries(_ base: UnsafeRawPointer, at offset: Int, gear: UnsafePointer<UInt64>) -> Entries {
        @inline(__always) func entry(_ k: Int) -> UInt64 {
            gear[Int(base.load(fromByteOffset: offset &+ k, as: UInt8.self))]
        }
        return (entry(0), entry(1), entry(2), entry(3), entry(4), entry(5), entry(6), entry(7))
    }

    /// Rolls bytes `[from, to)` into `fp`, testing the fingerprint after each byte.
    ///
    /// - Returns: The first position `p` in `[from, to)` whose fingerprint has no bit of `mask` set
    ///   (then `fp` is the fingerprint at `p`), or `to` when there is none (then `fp` is the
    ///   fingerprint at `to - 1`).
    @inline(__always)
    static func scan(
        _ base: UnsafeRawPointer, from: Int, to: Int, fp: inout UInt64, mask: UInt64,
        gear: UnsafePointer<UInt64>
    ) -> Int {
        var h = fp
        var p = from
        if to &- from >= 16 {
            // Eight bytes per iteration, software-pipelined: the table entries of the next eight
            // bytes are loaded one iteration ahead, so the loads are never folded into the hash
            // update and every step of the loop-carried chain is a single shift-and-add (one
            // `lea` on x86-64). The last iteration preloads bytes up to `p + 15 < to`.
            let end = to &- 15
            var g = entries(base, at: p, gear: gear)
            while p < end {
                let next = entries(base, at: p &+ 8, gear: gear)
                let h0 = (h &<< 1) &+ g.0
                if h0 & mask == 0 { fp = h0; return p }
                let h1 = (h0 &<< 1) &+ g.1
                if h1 & mask == 0 { fp = h1; return p &+ 1 }
                let h2 = (h1 &<< 1) &+ g.2
                if h2 & mask == 0 { fp = h2; return p &+ 2 }
                let h3 = (h2 &<< 1) &+ g.3
                if h3 & mask == 0 { fp = h3; return p &+ 3 }
                let h4 = (h3 &<< 1) &+ g.4
                if h4 & mask == 0 { fp = h4; return p &+ 4 }
                let h5 = (h4 &<< 1) &+ g.5
                if h5 & mask == 0 { fp = h5; return p &+ 5 }
                let h6 = (h5 &<< 1) &+ g.6
                if h6 & mask == 0 { fp = h6; return p &+ 6 }
                let h7 = (h6 &<< 1) &+ g.7
                if h7 & mask == 0 { fp = h7; return p &+ 7 }
                h = h7
                g = next
                p &+= 8
            }
        }
        while p < to {
            h = (h &<< 1) &+ gear[Int(base.load(fromByteOffset: p, as: UInt8.self))]
            if h & mask == 0 { fp = h; return p }
            p &+= 1
        }
        fp = h
        return to
    }
}
