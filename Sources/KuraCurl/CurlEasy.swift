import CCurl
import Foundation

/// One libcurl easy handle, used by one thread at a time (callers run transfers on a thread of their
/// own, never on a cooperative one). ``reset()`` makes it ready for the next transfer while keeping its
/// connection cache, so requests to the same server reuse the connection (keep-alive).
///
/// All libcurl pointer code of kura lives in this target (KuraCurl): the handle, the option calls, the
/// error buffer, string lists, and the read/write/header callbacks with their buffers. Nothing here ever
/// turns on libcurl's verbose output: it would print the AUTH exchange.
public final class CurlEasy {
    /// What a failed `curl_easy_perform` said.
    public struct Failure: Error, CustomStringConvertible {
        /// The libcurl result code (`CURLE_*`).
        public var code: CURLcode
        /// libcurl's own text for the code, and its error buffer when that says more.
        public var text: String
        public var description: String { text }
    }

    /// libcurl's process-wide initialisation, done once before the first handle (thread-safe via `static let`).
    private static let globalInit: CURLcode = curl_global_init(KURA_CURL_GLOBAL_DEFAULT)

    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    private var upload: UploadBuffer?
    private let response: ResponseBuffer
    private let headers = HeaderBuffer()

    /// A new handle; `responseLimit` bounds how much of a response body is kept (the rest is read and
    /// dropped; nil keeps all of it).
    public init(responseLimit: Int? = 64 << 10) throws {
        guard Self.globalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw Failure(code: CURLE_FAILED_INIT, text: "libcurl could not be initialised")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(KURA_CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(KURA_CURL_ERROR_SIZE) + 1)
        response = ResponseBuffer(limit: responseLimit ?? Int.max)
        try setBaseOptions()
    }

    /// Forgets every option, list, body and response of the last transfer (`curl_easy_reset`), keeping
    /// the open connections, the DNS cache and TLS sessions for the next one.
    public func reset() throws {
        curl_easy_reset(handle)
        for list in lists { curl_slist_free_all(list) }
        lists = []
        upload = nil
        response.bytes = []
        headers.clear()
        try setBaseOptions()
    }

    /// The options every transfer of this handle has: the error buffer, no signals, and the callbacks
    /// that collect the response.
    private func setBaseOptions() throws {
        try check(kura_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)))
        try set(CURLOPT_NOSIGNAL, 1)  // no SIGALRM for name-resolution timeouts: we run on our own threads
        try set(CURLOPT_NOPROGRESS, 1)
        try check(kura_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(response).toOpaque()))
        try check(kura_curl_setopt_write_function(handle) { data, size, count, context in
            guard let context else { return 0 }
            let box = Unmanaged<ResponseBuffer>.fromOpaque(context).takeUnretainedValue()
            let n = size * count
            if let data, n > 0 { box.append(UnsafeRawBufferPointer(start: data, count: n)) }
            return n
        })
        try check(kura_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, Unmanaged.passUnretained(headers).toOpaque()))
        try check(kura_curl_setopt_header_function(handle) { data, size, count, context in
            guard let context else { return 0 }
            let box = Unmanaged<HeaderBuffer>.fromOpaque(context).takeUnretainedValue()
            let n = size * count
            if let data, n > 0 { box.line(UnsafeRawBufferPointer(start: data, count: n)) }
            return n
        })
    }

    deinit {
        curl_easy_cleanup(handle)
        for list in lists { curl_slist_free_all(list) }
        errorBuffer.deallocate()
    }

    /// Sets a numeric option.
    public func set(_ option: CURLoption, _ value: Int) throws {
        try check(kura_curl_setopt_long(handle, option, value))
    }

    /// Sets a string option (libcurl copies the string).
    public func set(_ option: CURLoption, _ value: String) throws {
        try check(value.withCString { kura_curl_setopt_string(handle, option, $0) })
    }

    /// Sets a string-list option (recipients, HTTP headers); the list lives as long as the handle.
    public func set(_ option: CURLoption, list values: [String]) throws {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for value in values {
            guard let grown = curl_slist_append(list, value) else {
                if let list { curl_slist_free_all(list) }
                throw Failure(code: CURLE_OUT_OF_MEMORY, text: "out of memory")
            }
            list = grown
        }
        guard let list else { return }
        lists.append(list)
        try check(kura_curl_setopt_slist(handle, option, list))
    }

    /// Limits the handle to these protocols (comma-separated names, e.g. "smtp,smtps").
    public func allowProtocols(_ names: String) throws {
        try check(names.withCString { kura_curl_allow_protocols(handle, $0) })
    }

    /// Uploads `bytes` as the request body (SMTP DATA, or with ``setPostBody(_:)`` an HTTP POST).
    public func setUpload(_ bytes: [UInt8]) throws {
        let box = UploadBuffer(bytes)
        upload = box
        try set(CURLOPT_UPLOAD, 1)
        try check(kura_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(bytes.count)))
        try check(kura_curl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(box).toOpaque()))
        try check(kura_curl_setopt_read_function(handle) { buffer, size, count, context in
            guard let buffer, let context else { return KURA_CURL_READFUNC_ABORT }
            let box = Unmanaged<UploadBuffer>.fromOpaque(context).takeUnretainedValue()
            return box.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
        })
    }

    /// Sends `bytes` as an HTTP POST body (libcurl copies them).
    public func setPostBody(_ bytes: [UInt8]) throws {
        try set(CURLOPT_POST, 1)
        try check(kura_curl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
        try check(bytes.withUnsafeBytes { raw in
            // COPYPOSTFIELDS copies POSTFIELDSIZE bytes at once; an empty body still needs a valid pointer.
            kura_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(errorBuffer)))
        })
    }

    /// Runs the transfer (blocking: call it from a thread of its own). Returns the response code (HTTP
    /// status, or the last SMTP reply code) and the start of the response body.
    public func perform() throws -> (code: Int, body: [UInt8]) {
        errorBuffer[0] = 0
        let rc = curl_easy_perform(handle)
        guard rc == CURLE_OK else { throw failure(rc) }
        var code = 0
        _ = kura_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return (code, response.bytes)
    }

    /// The header fields of the last response, in order (those of a final response only: a redirect's or
    /// a `100 Continue`'s are dropped when the next status line arrives).
    public var responseHeaders: [(name: String, value: String)] { headers.fields }

    /// Sends `bytes` as the body of a request with any method: POST's body handling, then the method
    /// named (PUT for S3 uploads). libcurl copies the bytes.
    public func setBody(_ bytes: [UInt8], method: String) throws {
        try setPostBody(bytes)
        if method != "POST" { try set(CURLOPT_CUSTOMREQUEST, method) }
    }

    /// The response code after a failed transfer (for example the SMTP reply that refused a recipient).
    public var lastResponseCode: Int {
        var code = 0
        _ = kura_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    private func check(_ rc: CURLcode) throws {
        guard rc == CURLE_OK else { throw failure(rc) }
    }

    private func failure(_ rc: CURLcode) -> Failure {
        let general = String(cString: curl_easy_strerror(rc))
        let detail = String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines)
        let text = detail.isEmpty || detail == general ? general : "\(general): \(detail)"
        return Failure(code: rc, text: text)
    }
}

/// The bytes libcurl reads from while uploading.
private final class UploadBuffer {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0, let base = buffer.baseAddress else { return 0 }
        bytes.withUnsafeBytes { src in base.copyMemory(from: src.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
    }
}

/// The header fields of the response being received, one callback per line.
private final class HeaderBuffer {
    var fields: [(name: String, value: String)] = []

    func clear() { fields = [] }

    func line(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("HTTP/") { fields = []; return }  // a new response (after a redirect or 100 Continue)
        guard let colon = text.firstIndex(of: ":") else { return }
        fields.append((String(text[..<colon]), text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
}

/// The first `limit` bytes of a response body.
private final class ResponseBuffer {
    let limit: Int
    var bytes: [UInt8] = []
    init(limit: Int) { self.limit = limit }

    func append(_ data: UnsafeRawBufferPointer) {
        let room = limit - bytes.count
        if room > 0 { bytes.append(contentsOf: data.prefix(room)) }
    }
}
