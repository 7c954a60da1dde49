import Foundation
import Hummingbird
import KuraCrypto

/// The two rules every request passes before a route sees it: the dashboard is read-only (GET only;
/// anything else is 405 with `Allow: GET`), and when a token is set, the request must carry it —
/// `Authorization: Bearer TOKEN` (Prometheus' `bearer_token_file`, curl) or HTTP Basic with the token as
/// the password (so a browser can log in through its own prompt). Compared in constant time.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get else {
            return Response(status: .methodNotAllowed, headers: [.allow: "GET", .contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "kura serve is read-only: only GET requests are answered\n")))
        }
        if let token, !AccessMiddleware.authorized(request.headers[.authorization], token: token) {
            return Response(status: .unauthorized,
                            headers: [.wwwAuthenticate: "Basic realm=\"kura\", charset=\"UTF-8\"", .contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "a token is required: Authorization: Bearer TOKEN (or any user name with the token as password)\n")))
        }
        return try await next(request, context)
    }

    /// Whether an Authorization header carries `token`, as a bearer token or as a Basic password.
    static func authorized(_ header: String?, token: [UInt8]) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return false }
        let scheme = parts[0].lowercased()
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        if scheme == "bearer" { return constantTimeEquals(Array(value.utf8), token) }
        if scheme == "basic", let decoded = Data(base64Encoded: value), let colon = decoded.firstIndex(of: 58) {
            return constantTimeEquals(Array(decoded[decoded.index(after: colon)...]), token)
        }
        return false
    }
}
