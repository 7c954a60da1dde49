#!/usr/bin/env python3
"""A loopback S3 server for kura's tests: moto (authentication off) behind a proxy that checks every
request's AWS Signature V4 with botocore's signer, checks `x-amz-content-sha256` against the body, and
injects faults on demand.

    s3_test_server.py --bucket NAME [--bucket NAME ...] --key ACCESS:SECRET [--key ...]

Prints `PORT <proxy port>` on its first line once both servers listen and the buckets exist. Stops when
its standard input closes (the test process went away) or on SIGTERM.

Why a proxy: moto checks signatures only with authentication on, and its check wrongly rejects correctly
signed requests whose query contains `/` or `:` (a ListObjectsV2 prefix). botocore's `S3SigV4Auth` is
the reference signer here; the proxy answers 403 `SignatureDoesNotMatch` (or `InvalidAccessKeyId`)
when kura's signature differs, and otherwise forwards the request, Authorization header included (moto
answers 403 to anonymous requests), and returns moto's answer.

Control endpoints (not S3; the bucket name `__kura` cannot be a real bucket):
    GET  /__kura/stats               request counts by method, and faults injected, as JSON
    POST /__kura/reset-stats
    POST /__kura/faults?fail_every=N&reset_every=M&delay_ms=D&fail_status=503
         every N-th S3 request is answered 503 SlowDown, every M-th has its connection reset before any
         answer, every request waits D ms first; 0 turns a fault off.
"""
import argparse
import hashlib
import http.client
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.auth
import botocore.awsrequest
import botocore.credentials

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class State:
    def __init__(self, keys, moto_port):
        self.keys = keys  # access key -> secret
        self.moto_port = moto_port
        self.lock = threading.Lock()
        self.counts = {}
        self.injected = {"slowdown": 0, "reset": 0, "signature": 0}
        self.sequence = 0
        self.fail_every = 0
        self.reset_every = 0
        self.delay_ms = 0
        self.fail_status = 503


def s3_error(code, message, status):
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
            "<RequestId>kura-proxy</RequestId></Error>" % (code, message)).encode()
    return status, [("Content-Type", "application/xml")], body


def verify(state, method, path, headers, body):
    """None if the request is correctly signed; otherwise the error answer."""
    auth = headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return s3_error("AccessDenied", "the request is not signed with AWS Signature V4", 403)
    fields = {}
    for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        access, date, region, service, terminator = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        return s3_error("AuthorizationHeaderMalformed", "malformed Authorization header", 400)
    secret = state.keys.get(access)
    if secret is None:
        return s3_error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", 403)
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        if required not in signed:
            return s3_error("AccessDenied", "header %s is not signed" % required, 403)
    payload = headers.get("x-amz-content-sha256")
    if payload != hashlib.sha256(body).hexdigest():
        return s3_error("XAmzContentSHA256Mismatch",
                        "The provided 'x-amz-content-sha256' header does not match what was computed.", 400)
    amz_date = headers.get("x-amz-date", "")
    if amz_date[:8] != date or service != "s3" or terminator != "aws4_request":
        return s3_error("AuthorizationHeaderMalformed", "credential scope does not match x-amz-date", 400)

    request = botocore.awsrequest.AWSRequest(method=method, url="http://%s%s" % (headers.get("host"), path), data=body)
    for name in signed:
        value = headers.get(name)
        if value is None:
            return s3_error("AccessDenied", "signed header %s is missing" % name, 403)
        request.headers[name] = value
    request.context["timestamp"] = amz_date
    signer = botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(access, secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != signature:
        with state.lock:
            state.injected["signature"] += 1
        return s3_error("SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your key and signing method.", 403)
    return None


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, headers, body, head=False):
            self.send_response(status)
            sent_length = False
            for name, value in headers:
                if name.lower() in ("transfer-encoding", "connection", "server", "date"):
                    continue
                if name.lower() == "content-length":
                    sent_length = True
                self.send_header(name, value)
            if not sent_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and body:
                self.wfile.write(body)

        def reset_connection(self):
            # RST instead of FIN: the client sees "connection reset by peer" with no answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

        def control(self, method, path, query):
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
            if path == "/__kura/stats":
                with state.lock:
                    body = json.dumps({"counts": state.counts, "injected": state.injected}).encode()
                return self.answer(200, [("Content-Type", "application/json")], body)
            if path == "/__kura/reset-stats" and method == "POST":
                with state.lock:
                    state.counts = {}
                    state.injected = {k: 0 for k in state.injected}
                return self.answer(200, [], b"")
            if path == "/__kura/faults" and method == "POST":
                with state.lock:
                    state.fail_every = int(params.get("fail_every", "0"))
                    state.reset_every = int(params.get("reset_every", "0"))
                    state.delay_ms = int(params.get("delay_ms", "0"))
                    state.fail_status = int(params.get("fail_status", "503"))
                    state.sequence = 0
                return self.answer(200, [], b"")
            return self.answer(404, [], b"no such control endpoint")

        def handle_any(self):
            method = self.command
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urllib.parse.urlsplit(self.path)
            if split.path.startswith("/__kura/"):
                return self.control(method, split.path, split.query)
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["Authorization"] = self.headers.get("Authorization", "")
            with state.lock:
                state.counts[method] = state.counts.get(method, 0) + 1
                if method == "GET" and "list-type=2" in split.query:
                    state.counts["LIST"] = state.counts.get("LIST", 0) + 1
                state.sequence += 1
                n = state.sequence
                fail = state.fail_every and n % state.fail_every == 0
                reset = not fail and state.reset_every and n % state.reset_every == 0
                delay = state.delay_ms
                if fail:
                    state.injected["slowdown"] += 1
                if reset:
                    state.injected["reset"] += 1
            if delay:
                time.sleep(delay / 1000)
            if reset:
                return self.reset_connection()
            if fail:
                status, h, b = s3_error("SlowDown", "Please reduce your request rate.", state.fail_status)
                return self.answer(status, h, b, head=method == "HEAD")
            problem = verify(state, method, self.path, headers, body)
            if problem:
                status, h, b = problem
                return self.answer(status, h, b, head=method == "HEAD")
            forward = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
            connection = http.client.HTTPConnection("127.0.0.1", state.moto_port, timeout=120)
            try:
                connection.request(method, self.path, body=body if (body or method in ("PUT", "POST")) else None,
                                   headers=forward)
                response = connection.getresponse()
                data = response.read()
                self.answer(response.status, response.getheaders(), data, head=method == "HEAD")
            finally:
                connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket", action="append", default=[])
    parser.add_argument("--key", action="append", default=[], help="ACCESS:SECRET")
    args = parser.parse_args()
    keys = dict(k.split(":", 1) for k in args.key)

    from moto.server import ThreadedMotoServer
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()

    state = State(keys, moto_port)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # The buckets, made through moto directly (kura never creates buckets).
    for bucket in args.bucket:
        c = http.client.HTTPConnection("127.0.0.1", moto_port, timeout=30)
        c.request("PUT", "/" + bucket, headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=setup/20240101/us-east-1/s3/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        r = c.getresponse()
        r.read()
        if r.status not in (200, 409):
            print("ERROR creating bucket %s: %s" % (bucket, r.status), flush=True)
            sys.exit(1)
        c.close()

    print("PORT %d" % port, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    try:
        while sys.stdin.read(1):
            pass
    except KeyboardInterrupt:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
