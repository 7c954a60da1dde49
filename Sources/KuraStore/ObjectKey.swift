/// A key that passed the key rules of ``ObjectStore``, split into its components.
///
/// The one place the rules live: every store validates keys and list prefixes through here, so all stores
/// accept and reject exactly the same strings.
struct ObjectKey: Sendable {
    /// The longest key, in bytes (the S3 limit).
    static let maximumLength = 1024
    /// The longest component, in bytes (`NAME_MAX` on Linux and macOS).
    static let maximumComponentLength = 255

    /// The key as given.
    let string: String
    /// The `/`-separated components, at least one.
    let components: [Substring]

    /// The components before the last one: the directories a file-system store keeps the object in.
    var parents: ArraySlice<Substring> { components.dropLast() }
    /// The last component.
    var name: Substring { components[components.count - 1] }

    /// Validates `key`; throws ``ObjectStoreError/Code/invalidKey`` naming the rule it breaks.
    init(_ key: String, location: String) throws(ObjectStoreError) {
        if let problem = Self.problem(in: key) {
            throw ObjectStoreError(.invalidKey, key: key, location: location, message: "invalid key: \(problem)")
        }
        string = key
        components = key.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// Checks a list prefix: "" or anything some valid key starts with (`data/`, `data/a`, `snap`).
    static func validatePrefix(_ prefix: String, location: String) throws(ObjectStoreError) {
        guard !prefix.isEmpty else { return }
        // Whole components, the last possibly cut short, or whole components followed by "/".
        if let problem = problem(in: prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix) {
            throw ObjectStoreError(.invalidKey, key: prefix, location: location,
                                   message: "invalid list prefix: no valid key starts with it (\(problem))")
        }
    }

    /// Whether `name` may be a component of a key; file-system stores skip directory entries that may not.
    static func isValidComponent<S: StringProtocol>(_ name: S) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, first != UInt8(ascii: "."),
              bytes.count <= maximumComponentLength else { return false }
        return bytes.allSatisfy(isAllowed)
    }

    /// Why `key` is not a valid key, or nil if it is.
    private static func problem(in key: String) -> String? {
        if key.isEmpty { return "the key is empty" }
        if key.utf8.count > maximumLength { return "longer than \(maximumLength) bytes" }
        for component in key.split(separator: "/", omittingEmptySubsequences: false) {
            let bytes = component.utf8
            guard let first = bytes.first else {
                return key.hasPrefix("/") ? "starts with \"/\"" : key.hasSuffix("/") ? "ends with \"/\"" : "contains \"//\""
            }
            if first == UInt8(ascii: ".") {
                return "component \(ObjectStoreError.quoted(String(component))) starts with \".\""
            }
            if bytes.count > maximumComponentLength {
                return "a component is longer than \(maximumComponentLength) bytes"
            }
            if let bad = component.unicodeScalars.first(where: { !$0.isASCII || !isAllowed(UInt8($0.value)) }) {
                return "character \(ObjectStoreError.quoted(String(bad))) is not allowed "
                    + "(only ASCII letters, digits, \".\", \"_\", \"-\" and \"/\" between components)"
            }
        }
        return nil
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
