/// Walks the concatenated, increasing candidates of all segments.
struct CandidateCursor {
    let segments: UnsafeBufferPointer<[Int]>
    var segment = 0
    var index = 0

    init(segments: UnsafeBufferPointer<[Int]>) {
        self.segments = segments
        normalize()
    }

    /// The current encoded candidate, or `nil` past the last one.
    var current: Int? {
        segment < segments.count ? segments[segment][index] : nil
    }

    /// Moves to the next candidate.
    mutating func advance() {
        index += 1
        normalize()
    }

    /// Moves past every candidate whose position is below `position`.
    mutating func skip(below position: Int) {
        while let candidate = current, candidate >> 1 < position {
            advance()
        }
    }

    private mutating func normalize() {
        while segment < segments.count && index >= segments[segment].count {
            segment += 1
            index = 0
        }
    }
}
