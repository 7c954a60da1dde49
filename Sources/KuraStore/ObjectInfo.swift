/// What a listing or ``ObjectStore/stat(_:)`` says about one stored object.
public struct ObjectInfo: Sendable, Hashable {
    /// The object's key, for example `data/ab/ab12…`.
    public let key: String
    /// The object's size in bytes.
    public let size: Int

    /// Creates a description of the object at `key` holding `size` bytes.
    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}
