#!/usr/bin/env python3
"""A loopback S3 server for kura's tests: moto (authentication off) behind a proxy that checks every
request's AWS Signature V4 with botocore's signer, checks `x-amz-content-sha256` against the body, and
injects faults on demand.

    s3_test_server.py --bucket NAME [--bucket NAME ...] --key ACCESS:SECRET [--key ...] [--iam] [--object-lock]

Prints `PORT <proxy port>` on its first line once both servers listen and the buckets exist. Stops when
its standard input closes (the test process went away) or on SIGTERM.

Why a proxy: moto checks signatures only with authentication on, and its check wrongly rejects correctly
signed requests whose query contains `/` or `:` (a ListObjectsV2 prefix). botocore's `S3SigV4Auth` is
the reference signer here; the proxy answers 403 `SignatureDoesNotMatch` (or `InvalidAccessKeyId`)
when kura's signature differs, and otherwise forwards the request, Authorization header included (moto
answers 403 to anonymous requests), and returns moto's answer.

With `--iam`, moto enforces IAM user policies and Object Lock (authentication on). The proxy still judges
every signature with botocore, then re-signs the request for moto with the moto access key of the same
user, writing `/` and `:` in the query unencoded (moto's check computes the canonical query from the
decoded form, so it rejects the correctly encoded original): moto's verdict is then the policy's alone.
Each `--key` becomes an IAM user allowed everything (the admin); more users with their own policies
come from `POST /__kura/iam-user`. With `--object-lock` the buckets are created with Object Lock (and so
versioning) enabled, and, like AWS, a PUT of an object into them must carry `Content-MD5` (or an
`x-amz-checksum-*` header) that matches the body.

Control endpoints (not S3; the bucket name `__kura` cannot be a real bucket):
    GET  /__kura/stats               request counts by method, and faults injected, as JSON
    POST /__kura/reset-stats
    POST /__kura/faults?fail_every=N&reset_every=M&delay_ms=D&fail_status=503
         every N-th S3 request is answered 503 SlowDown, every M-th has its connection reset before any
         answer, every request waits D ms first; 0 turns a fault off.
    POST /__kura/iam-user?name=N     (--iam) body: an IAM policy document; creates user N with it as its
                                     inline policy and an access key: {"accessKey": …, "secretKey": …}
    GET  /__kura/versions?bucket=B&prefix=P   every object version under P, read from moto's own state:
                                     [{"key", "versionId", "deleteMarker", "lockMode", "lockUntil", "size"}]
    POST /__kura/delete-version?bucket=B&key=K&version=V&as=ACCESS   (--iam) DeleteObject of one version
                                     as that key (botocore, straight to moto): {"status", "code"}

Requests are counted by method, object requests also by the repository folder of the key (`PUT data`,
`GET index`, `HEAD snapshots`, `DELETE locks`, ...; a GET that lists counts as `LIST`, not by folder), and listings of a whole folder by it (`LIST data`,
`LIST index`, ...).
"""
import argparse
import base64
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

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REPOSITORY_FOLDERS = ("data", "index", "snapshots", "locks", "keys", "records", "config")


class State:
    def __init__(self, keys, moto_port):
        self.keys = keys  # access key -> secret
        self.moto_port = moto_port
        # --iam: access key -> (moto's access key, moto's secret) the request is re-signed with
        self.moto_keys = {}
        self.lock_buckets = set()
        self.iam = None  # --iam: a boto3 IAM client signed as the first admin
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
    return object_lock_problem(state, method, path, headers, body)


def object_lock_problem(state, method, path, headers, body):
    """AWS's rules for a PUT of an object into a bucket with Object Lock: Content-MD5 (or a checksum
    header) is required, and Content-MD5 must match the body."""
    parts = urllib.parse.urlsplit(path).path.lstrip("/").split("/", 1)
    if method != "PUT" or len(parts) < 2 or not parts[1] or parts[0] not in state.lock_buckets:
        return None
    md5 = headers.get("content-md5")
    if md5 is None:
        if any(name.startswith("x-amz-checksum-") for name in headers):
            return None
        return s3_error("InvalidRequest",
                        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters", 400)
    if md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
        return s3_error("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
    return None


def moto_request(state, method, path, headers, body):
    """--iam: the request as moto can check it: `/` and `:` unencoded in the query, signed with the moto
    key of the same user over the same headers. Returns (path, Authorization header)."""
    auth = headers.get("Authorization", "")
    fields = dict(part.strip().partition("=")[::2] for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    access, date, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    moto_id, moto_secret = state.moto_keys[access]
    split = urllib.parse.urlsplit(path)
    query = split.query.replace("%2F", "/").replace("%2f", "/").replace("%3A", ":").replace("%3a", ":")
    new_path = split.path + ("?" + query if query else "")
    request = botocore.awsrequest.AWSRequest(method=method, url="http://%s%s" % (headers.get("host"), new_path), data=body)
    for name in signed:
        request.headers[name] = headers.get(name)
    request.context["timestamp"] = headers.get("x-amz-date")
    signer = botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(moto_id, moto_secret), service, region)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    authorization = "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s" % (
        moto_id, date, region, service, ";".join(signed), signature)
    return new_path, authorization


def versions(bucket_name, prefix):
    """Every version of every key under `prefix`, from moto's state (not through its API)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    backends = s3_backends[DEFAULT_ACCOUNT_ID]
    backend = backends["aws"] if "aws" in backends else backends["global"]  # moto 5 names the partition, moto 4 did not
    bucket = backend.get_bucket(bucket_name)
    out = []
    for name in bucket.keys.keys():
        if not name.startswith(prefix):
            continue
        for key in bucket.keys.getlist(name):
            marker = type(key).__name__ == "FakeDeleteMarker"
            out.append({"key": name, "versionId": getattr(key, "version_id", None), "deleteMarker": marker,
                        "lockMode": None if marker else key.lock_mode, "lockUntil": None if marker else key.lock_until,
                        "size": 0 if marker else key.size})
    return out


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

        def control(self, method, path, query, body):
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
            if path == "/__kura/iam-user" and method == "POST" and state.iam is not None:
                name = params["name"]
                state.iam.create_user(UserName=name)
                state.iam.put_user_policy(UserName=name, PolicyName=name + "-policy", PolicyDocument=body.decode())
                key = state.iam.create_access_key(UserName=name)["AccessKey"]
                with state.lock:
                    state.keys[key["AccessKeyId"]] = key["SecretAccessKey"]
                    state.moto_keys[key["AccessKeyId"]] = (key["AccessKeyId"], key["SecretAccessKey"])
                answer = {"accessKey": key["AccessKeyId"], "secretKey": key["SecretAccessKey"]}
                return self.answer(200, [("Content-Type", "application/json")], json.dumps(answer).encode())
            if path == "/__kura/versions" and method == "GET":
                return self.answer(200, [("Content-Type", "application/json")],
                                   json.dumps(versions(params["bucket"], params.get("prefix", ""))).encode())
            if path == "/__kura/delete-version" and method == "POST" and state.iam is not None:
                moto_id, moto_secret = state.moto_keys[params["as"]]
                client = boto3.client("s3", endpoint_url="http://127.0.0.1:%d" % state.moto_port, region_name="us-east-1",
                                      aws_access_key_id=moto_id, aws_secret_access_key=moto_secret,
                                      config=botocore.config.Config(retries={"max_attempts": 1}))
                try:
                    client.delete_object(Bucket=params["bucket"], Key=params["key"], VersionId=params["version"])
                    answer = {"status": 204, "code": ""}
                except botocore.exceptions.ClientError as e:
                    answer = {"status": e.response["ResponseMetadata"]["HTTPStatusCode"], "code": e.response["Error"]["Code"]}
                return self.answer(200, [("Content-Type", "application/json")], json.dumps(answer).encode())
            return self.answer(404, [], b"no such control endpoint")

        def handle_any(self):
            method = self.command
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urllib.parse.urlsplit(self.path)
            if split.path.startswith("/__kura/"):
                return self.control(method, split.path, split.query, body)
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers["Authorization"] = self.headers.get("Authorization", "")
            with state.lock:
                state.counts[method] = state.counts.get(method, 0) + 1
                if method == "GET" and "list-type=2" in split.query:
                    state.counts["LIST"] = state.counts.get("LIST", 0) + 1
                    listed = urllib.parse.parse_qs(split.query).get("prefix", [""])[0]
                    folder = listed.rstrip("/").rsplit("/", 1)[-1]
                    if listed.endswith("/") and folder in REPOSITORY_FOLDERS:
                        state.counts["LIST " + folder] = state.counts.get("LIST " + folder, 0) + 1
                elif method in ("PUT", "GET", "HEAD", "DELETE"):
                    components = split.path.split("/")
                    folder = next((c for c in reversed(components[2:-1]) if c in REPOSITORY_FOLDERS), None)
                    if folder is None and components[-1] == "config":
                        folder = "config"
                    if folder:
                        state.counts[method + " " + folder] = state.counts.get(method + " " + folder, 0) + 1
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
            target = self.path
            if state.iam is not None:
                target, forward["Authorization"] = moto_request(state, method, self.path, headers, body)
            connection = http.client.HTTPConnection("127.0.0.1", state.moto_port, timeout=120)
            try:
                connection.request(method, target, body=body if (body or method in ("PUT", "POST")) else None,
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
    parser.add_argument("--iam", action="store_true", help="moto enforces IAM policies and Object Lock")
    parser.add_argument("--object-lock", action="store_true", help="buckets with Object Lock enabled")
    args = parser.parse_args()
    keys = dict(k.split(":", 1) for k in args.key)

    from moto import settings
    from moto.server import ThreadedMotoServer
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")  # authentication off during the set-up
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
        headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=setup/20240101/us-east-1/s3/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        if args.object_lock:
            headers["x-amz-bucket-object-lock-enabled"] = "true"
            state.lock_buckets.add(bucket)
        c.request("PUT", "/" + bucket, headers=headers)
        r = c.getresponse()
        r.read()
        if r.status not in (200, 409):
            print("ERROR creating bucket %s: %s" % (bucket, r.status), flush=True)
            sys.exit(1)
        c.close()

    if args.iam:
        # Every --key an IAM user allowed everything, then authentication on.
        endpoint = "http://127.0.0.1:%d" % moto_port
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
        everything = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        for n, access in enumerate(keys):
            name = "kura-admin-%d" % n
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="everything", PolicyDocument=everything)
            key = iam.create_access_key(UserName=name)["AccessKey"]
            state.moto_keys[access] = (key["AccessKeyId"], key["SecretAccessKey"])
        admin = next(iter(state.moto_keys.values()))
        state.iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                                 aws_access_key_id=admin[0], aws_secret_access_key=admin[1])
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

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
