/// Just enough XML for S3's answers: ListObjectsV2 results and error documents. Element names are
/// matched literally (`<Key>…</Key>`, no attributes on the elements read), text is entity-decoded.
/// S3's documents are flat and generated, so this is all a reader needs; it does not link libxml2.
enum S3XML {
    /// The contents of every `<name>…</name>` element, in order (not nested in themselves).
    static func elements(_ name: String, in text: Substring) -> [Substring] {
        var found: [Substring] = []
        let open = "<\(name)>", close = "</\(name)>"
        var rest = text[...]
        while let start = rest.range(of: open) {
            guard let end = rest[start.upperBound...].range(of: close) else { break }
            found.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// The decoded text of the first `<name>…</name>` element, or nil.
    static func value(_ name: String, in text: Substring) -> String? {
        elements(name, in: text).first.map { decode($0) }
    }

    /// Replaces the five predefined entities and numeric character references.
    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { out += rest[amp...]; return out }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: Unicode.Scalar?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(1)).flatMap(Unicode.Scalar.init)
                }
                if let scalar { out.unicodeScalars.append(scalar) } else { out += rest[amp...semi] }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    /// One page of a ListObjectsV2 answer.
    struct ListPage {
        var objects: [(key: String, size: Int)]
        var nextContinuationToken: String?
        var isTruncated: Bool
    }

    /// Parses a ListObjectsV2 result; nil if it is not one.
    static func listPage(_ text: String) -> ListPage? {
        let doc = text[...]
        guard doc.contains("<ListBucketResult") else { return nil }
        var objects: [(key: String, size: Int)] = []
        for contents in elements("Contents", in: doc) {
            guard let key = value("Key", in: contents), let size = value("Size", in: contents).flatMap({ Int($0) }) else { return nil }
            objects.append((key, size))
        }
        let truncated = value("IsTruncated", in: doc) == "true"
        return ListPage(objects: objects, nextContinuationToken: value("NextContinuationToken", in: doc), isTruncated: truncated)
    }

    /// `Code` and `Message` of an S3 error document.
    static func error(_ text: String) -> (code: String, message: String)? {
        let doc = text[...]
        guard doc.contains("<Error>"), let code = value("Code", in: doc) else { return nil }
        return (code, value("Message", in: doc) ?? "")
    }
}
