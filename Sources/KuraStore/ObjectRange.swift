/// The range rules of ``ObjectStore/get(_:range:)``, shared by every store so all of them accept and
/// reject the same ranges.
enum ObjectRange {
    /// Throws ``ObjectStoreError/Code/rangeNotSatisfiable`` unless `range` lies within an object of `size`
    /// bytes. An empty range is fine anywhere from 0 up to and including `size`.
    static func check(_ range: Range<Int>, size: Int, key: String, location: String) throws(ObjectStoreError) {
        if range.lowerBound < 0 {
            throw ObjectStoreError(.rangeNotSatisfiable, key: key, location: location,
                                   message: "range \(range) starts before the beginning of the object")
        }
        if range.upperBound > size {
            throw ObjectStoreError(.rangeNotSatisfiable, key: key, location: location,
                                   message: "range \(range) reaches past the end of the \(size)-byte object")
        }
    }
}
