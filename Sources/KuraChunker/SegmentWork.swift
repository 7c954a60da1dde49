/// The shared, read-mostly state of one parallel scan. The pointers stay valid for the whole scan
/// (the caller's buffer and a result array that outlives `concurrentPerform`), and each result
/// slot is written by one thread only, so sharing it across threads is safe.
struct SegmentWork: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    let segmentSize: Int
    let segments: UnsafeMutableBufferPointer<[Int]>
}
