import KuraCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// AWS Signature Version 4 for S3 requests (header-based, `AWS4-HMAC-SHA256`): the canonical request,
/// the string to sign, the derived signing key and the `Authorization` header.
///
/// Our own signer rather than libcurl's `CURLOPT_AWS_SIGV4` (see docs/decisions.md): it is ~100 lines
/// over `HMACSHA256`/`SHA256` from KuraCrypto, sorts and encodes the query itself, signs exactly the
/// headers it is given, and is checked against AWS's published examples and botocore's signer in tests.
struct S3Signer: Sendable {
    let credentials: S3Credentials
    let region: String
    var service = "s3"

    /// A signed request's extra header fields: `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (with a session token) and `Authorization`.
    ///
    /// - Parameters:
    ///   - path: the request path, already URI-encoded as sent (S3 does not normalise it).
    ///   - query: the query parameters, unencoded; they are encoded and sorted here, and must be sent as
    ///     ``canonicalQuery(_:)`` gives them.
    ///   - headers: the other header fields to sign (`host` at least), names in any case.
    ///   - payloadHash: the lower-case hex SHA-256 of the body.
    ///   - signPayloadHeader: whether `x-amz-content-sha256` is sent and signed (always for S3; the AWS
    ///     test-suite vectors for other services do not have it).
    func sign(method: String, path: String, query: [(String, String)], headers: [(String, String)],
              payloadHash: String, amzDate: String, signPayloadHeader: Bool = true) -> [(name: String, value: String)] {
        var added: [(name: String, value: String)] = [("x-amz-date", amzDate)]
        if signPayloadHeader { added.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }

        var fields: [String: [String]] = [:]
        for (name, value) in headers + added.map({ ($0.name, $0.value) }) {
            fields[name.lowercased(), default: []].append(Self.trimmed(value))
        }
        let names = fields.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(fields[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [method, path, Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")

        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = HMACSHA256.authenticationCode(key: Array("AWS4\(credentials.secretAccessKey)".utf8), data: Array(day.utf8))
        for part in [region, service, "aws4_request"] {
            key = HMACSHA256.authenticationCode(key: key, data: Array(part.utf8))
        }
        let signature = Self.hex(HMACSHA256.authenticationCode(key: key, data: Array(stringToSign.utf8)))
        added.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
                                        + "SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return added
    }

    /// The query as signed and sent: every name and value URI-encoded, sorted by name then value.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0), uriEncode($0.1)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// RFC 3986 percent-encoding as SigV4 wants it: only `A–Z a–z 0–9 - _ . ~` stay; `/` too when
    /// `keepSlash` (object paths).
    static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out += "/"
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }

    /// `20240131T235959Z` for `seconds` since the epoch (UTC).
    static func amzDate(secondsSinceEpoch seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }

    /// The current time as an `x-amz-date` value.
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return amzDate(secondsSinceEpoch: Int(spec.tv_sec))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Header values are signed with surrounding spaces removed and inner runs of spaces collapsed.
    private static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
