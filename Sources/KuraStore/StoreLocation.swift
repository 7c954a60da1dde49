import KuraCore

/// Where a repository lives, parsed from the text a user gives (`--repo`, `KURA_REPOSITORY`, the
/// configuration's `repository`): the one place that decides what such a text means.
///
/// - `s3:https://host[:port]/bucket[/prefix]` and `s3:http://…`: an S3-compatible endpoint by URL.
/// - `s3://host[:port]/bucket[/prefix]` and `s3:host[:port]/bucket[/prefix]`: the same over HTTPS (restic's
///   forms: the first component is the endpoint, not the bucket as in the AWS command line).
/// - Any other `scheme://…` is refused (no such store), so that a typo never becomes a local folder.
/// - Everything else is a local folder, absolute or relative to the working directory, used as given
///   (`~` is the shell's to expand, not ours).
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    /// A folder on a local (or mounted) file system.
    case local(path: String)
    /// A bucket (and key prefix) on an S3-compatible service.
    case s3(S3Location)

    /// Parses `text`; throws ``StoreLocationError`` saying what is wrong with it.
    public init(parsing text: String) throws(StoreLocationError) {
        if text.isEmpty { throw StoreLocationError(text, "the repository location is empty") }
        if text.hasPrefix("s3:") {
            self = .s3(try S3Location(parsing: text))
            return
        }
        if let scheme = Self.urlScheme(of: text) {
            throw StoreLocationError(text, "kura has no store for \"\(scheme)://\" locations",
                                     hint: "use a local folder (a mounted disk or NFS share works), or s3:https://host/bucket")
        }
        self = .local(path: text)
    }

    /// The location as the user would write it.
    public var description: String {
        switch self {
        case .local(let path): return path
        case .s3(let s3): return s3.description
        }
    }

    /// `sftp` for `sftp://host/x`: a URL scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`;
    /// `:` too, for restic's `rest:http://…`) followed by `://`; nil for anything else.
    private static func urlScheme(of text: String) -> String? {
        guard let end = text.range(of: "://") else { return nil }
        let scheme = text[..<end.lowerBound]
        guard let first = scheme.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
              scheme.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)
                  || $0 == "+" || $0 == "-" || $0 == "." || $0 == ":") })
        else { return nil }
        return String(scheme)
    }
}

/// An S3-compatible location: the endpoint (scheme, host, port), the bucket and a key prefix.
public struct S3Location: Sendable, Hashable, CustomStringConvertible {
    /// How the endpoint is reached.
    public enum Scheme: String, Sendable, Hashable {
        case https, http
    }

    public var scheme: Scheme
    /// The endpoint's host name or IP address (an IPv6 address without its brackets).
    public var host: String
    /// The endpoint's port, if one was given (otherwise the scheme's default).
    public var port: Int?
    /// The bucket name (S3 rules: 3–63 lower-case letters, digits, `.` and `-`, starting and ending with
    /// a letter or digit).
    public var bucket: String
    /// The key prefix inside the bucket without a trailing `/` ("" for the whole bucket); every component
    /// follows the object key rules, so the store's keys are `prefix/` + key.
    public var prefix: String

    public init(scheme: Scheme, host: String, port: Int? = nil, bucket: String, prefix: String = "") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.bucket = bucket
        self.prefix = prefix
    }

    /// Parses one of the `s3:` forms (see ``StoreLocation``).
    public init(parsing text: String) throws(StoreLocationError) {
        var rest = Substring(text)
        guard rest.hasPrefix("s3:") else { throw StoreLocationError(text, "an S3 location starts with \"s3:\"") }
        rest = rest.dropFirst(3)
        if rest.hasPrefix("https://") {
            scheme = .https
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("http://") {
            scheme = .http
            rest = rest.dropFirst(7)
        } else if rest.hasPrefix("//") {
            scheme = .https
            rest = rest.dropFirst(2)
        } else if let other = rest.range(of: "://") {
            throw StoreLocationError(text, "an S3 endpoint is reached by https or http, not \"\(rest[..<other.lowerBound])\"")
        } else {
            scheme = .https
        }
        let form = "s3:https://host[:port]/bucket[/prefix]"
        if rest.contains("?") || rest.contains("#") {
            throw StoreLocationError(text, "an S3 location has no query or fragment", hint: "write it as \(form)")
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw StoreLocationError(text, "the S3 location names no bucket", hint: "write it as \(form)")
        }
        let authority = rest[..<slash]
        if authority.contains("@") {
            throw StoreLocationError(text, "credentials do not belong in the repository location (it shows in `ps` and logs)",
                                     hint: "give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        (host, port) = try Self.hostAndPort(authority, text)

        var components = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: false)
        if components.count > 1, components.last?.isEmpty == true { components.removeLast() }   // "bucket/prefix/"
        guard let first = components.first, !first.isEmpty else {
            throw StoreLocationError(text, "the S3 location names no bucket", hint: "write it as \(form)")
        }
        bucket = String(first)
        if let problem = Self.bucketProblem(bucket) {
            throw StoreLocationError(text, "invalid bucket name \"\(bucket)\": \(problem)")
        }
        let prefixComponents = components.dropFirst()
        for component in prefixComponents where !ObjectKey.isValidComponent(component) {
            throw StoreLocationError(text, component.isEmpty ? "the key prefix contains \"//\"" :
                "the key prefix component \(ObjectStoreError.quoted(String(component))) is not allowed",
                hint: "prefix components are ASCII letters, digits, \".\", \"_\" and \"-\", not starting with \".\"")
        }
        prefix = prefixComponents.joined(separator: "/")
    }

    /// `s3:https://host:port/bucket/prefix`.
    public var description: String {
        var text = "s3:\(scheme.rawValue)://"
        text += host.contains(":") ? "[\(host)]" : host
        if let port { text += ":\(port)" }
        text += "/" + bucket
        if !prefix.isEmpty { text += "/" + prefix }
        return text
    }

    private static func hostAndPort(_ authority: Substring, _ text: String) throws(StoreLocationError) -> (String, Int?) {
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {   // [IPv6]:port
            guard let close = authority.firstIndex(of: "]") else {
                throw StoreLocationError(text, "the endpoint's IPv6 address lacks its closing \"]\"")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw StoreLocationError(text, "unexpected text after the endpoint's address") }
                portText = after.dropFirst()
            }
            if host.isEmpty || !host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) {
                throw StoreLocationError(text, "\"\(authority)\" is not an IPv6 address")
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        if host.isEmpty { throw StoreLocationError(text, "the S3 location names no endpoint host") }
        if !authority.hasPrefix("["),
           !host.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == ".") }) {
            throw StoreLocationError(text, "\"\(host)\" is not a host name")
        }
        var port: Int?
        if let portText {
            guard let p = Int(portText), portText.allSatisfy(\.isASCII), (1...65535).contains(p) else {
                throw StoreLocationError(text, "the endpoint's port \"\(portText)\" is not a number from 1 to 65535")
            }
            port = p
        }
        return (String(host), port)
    }

    /// Why `name` breaks the S3 bucket naming rules, or nil.
    static func bucketProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.count < 3 || bytes.count > 63 { return "a bucket name has 3 to 63 characters" }
        func alphanumeric(_ b: UInt8) -> Bool { (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) }
        guard bytes.allSatisfy({ alphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            return "only lower-case letters, digits, \".\" and \"-\" are allowed"
        }
        guard alphanumeric(bytes.first!), alphanumeric(bytes.last!) else { return "it must start and end with a letter or digit" }
        if name.contains("..") { return "it must not contain \"..\"" }
        return nil
    }
}

/// A repository location that cannot be used: what is wrong and what to write instead.
public struct StoreLocationError: Error, Sendable, Hashable, CustomStringConvertible, KuraErrorConvertible {
    /// The location as given.
    public var location: String
    /// What is wrong with it.
    public var message: String
    /// What to do, if there is something specific to say.
    public var hint: String?
    /// Whether the location is well-formed but names a kind of store this version cannot open
    /// (an S3 bucket, today); false if it is malformed.
    public var isUnsupported: Bool

    public init(_ location: String, _ message: String, hint: String? = nil, isUnsupported: Bool = false) {
        self.location = location
        self.message = message
        self.hint = hint
        self.isUnsupported = isUnsupported
    }

    public var description: String { "repository location \(ObjectStoreError.quoted(location)): \(message)" }

    /// An invalid argument: nothing was read or written.
    public var kuraError: KuraError {
        KuraError(.invalidArgument, description, hint: hint ?? "nothing was read or written; fix --repo, KURA_REPOSITORY or the configuration's repository")
    }
}
