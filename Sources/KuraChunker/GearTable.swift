/// The 256 random 64-bit values of the gear hash, one per byte value.
///
/// The repository derives its secret table from the repository key and passes the values in with
/// ``init(values:)``; ``seeded(_:)`` makes a public, reproducible table for tests and benchmarks.
public struct GearTable: Sendable, Hashable {
    /// The table entries; `values[b]` is added for byte value `b`. Always 256 entries.
    public let values: [UInt64]

    /// Creates a table from exactly 256 values.
    /// - Parameter values: The entries for byte values 0 through 255, in order.
    /// - Precondition: `values.count == 256`.
    public init(values: [UInt64]) {
        precondition(values.count == 256, "GearTable needs exactly 256 values, got \(values.count)")
        self.values = values
    }

    /// A table filled with the SplitMix64 sequence started at `seed`, for byte values 0 through 255
    /// in order: `state += 0x9E3779B97F4A7C15; z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
    /// z = (z ^ (z >> 27)) * 0x94D049BB133111EB; value = z ^ (z >> 31)` (all arithmetic mod 2^64).
    /// - Parameter seed: The initial SplitMix64 state.
    /// - Returns: The table.
    public static func seeded(_ seed: UInt64) -> GearTable {
        var state = seed
        var values = [UInt64]()
        values.reserveCapacity(256)
        for _ in 0..<256 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            values.append(z ^ (z >> 31))
        }
        return GearTable(values: values)
    }

    /// The entry for one byte value.
    /// - Parameter byte: The byte value.
    public subscript(byte: UInt8) -> UInt64 {
        values[Int(byte)]
    }
}
