import Foundation
import KuraCore
import KuraRepository

/// How `kura serve` listens and whom it lets in. ``validated()`` holds the one rule: loopback without a
/// token is fine (only this machine's users can connect); any other address needs a bearer token
/// (`--token-file`, a 0600 file like a password file), and TLS from a reverse proxy in front
/// (docs/dashboard.md).
public struct DashboardOptions: Sendable {
    /// The address to listen on (an IPv4/IPv6 address or a host name).
    public var host = "127.0.0.1"
    public var port = 8877
    /// The bearer token every request must carry; nil: none asked for (loopback only).
    public var token: [UInt8]?
    /// How long figures are reused before the state file and the repository are read again.
    public var refreshSeconds: Double = 30

    public init() {}

    /// Parses `HOST:PORT`, `:PORT`, `PORT`, `[IPv6]:PORT` or `HOST` (port 8877).
    public static func parseListen(_ text: String) throws -> (host: String, port: Int) {
        func port(_ s: Substring) throws -> Int {
            guard let p = Int(s), (0...65_535).contains(p) else {
                throw KuraError(.usage, "--listen \(text): \(s) is not a port number", hint: "e.g. --listen 127.0.0.1:8877")
            }
            return p
        }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw KuraError(.usage, "--listen \(text): missing ]", hint: "e.g. --listen [::1]:8877") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return (host, 8877) }
            guard rest.hasPrefix(":") else { throw KuraError(.usage, "--listen \(text): expected :PORT after ]") }
            return (host, try port(rest.dropFirst()))
        }
        if text.allSatisfy(\.isNumber) { return ("127.0.0.1", try port(Substring(text))) }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let c = text.lastIndex(of: ":") {
            let host = String(text[..<c])
            return (host.isEmpty ? "127.0.0.1" : host, try port(text[text.index(after: c)...]))
        }
        if text.isEmpty { throw KuraError(.usage, "--listen needs an address", hint: "e.g. --listen 127.0.0.1:8877") }
        return (text, 8877)  // a host name, or a bare IPv6 address
    }

    /// Whether `host` can only be reached from this machine: 127.0.0.0/8, ::1, `localhost`.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Refuses to listen beyond loopback without a token (exit 64). Returns self.
    public func validated() throws -> DashboardOptions {
        if token == nil, !DashboardOptions.isLoopback(host) {
            throw KuraError(.usage, "kura serve listens on \(host) only with a bearer token: anyone who can reach that address could read every backed-up file",
                            hint: "create a token (umask 077; head -c 32 /dev/urandom | base64 > /etc/kura/serve.token) and pass --token-file /etc/kura/serve.token, and put a TLS reverse proxy in front (docs/dashboard.md); or listen on 127.0.0.1")
        }
        return self
    }

    /// Reads the token from a file under the password-file rules (first line, not empty, mode 0600).
    public static func readToken(_ path: String) throws -> [UInt8] {
        let token = try PasswordSource.readSecretFile(path, what: "token file")
        guard token.count >= 16 else {
            throw KuraError(.invalidArgument, "the token in \(path) is \(token.count) characters long; at least 16 are needed",
                            hint: "umask 077; head -c 32 /dev/urandom | base64 > \(path)")
        }
        return token
    }
}
