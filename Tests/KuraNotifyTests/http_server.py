#!/usr/bin/env python3
"""A real HTTP server on loopback that receives kura's webhooks in the tests.

Listens on 127.0.0.1 on a free port and prints "PORT <n>" once it accepts connections. Every request
is written to OUTDIR as NNNN.json: method, path, headers and the body (as UTF-8 text). The answer
depends on the path: /status/<code> answers with that code and a short body; anything else 200 "ok".

Stops on SIGTERM, on end of standard input, or after --lifetime seconds (default 120).
"""
import argparse
import http.server
import json
import os
import sys
import threading
import urllib.parse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--lifetime", type=float, default=120)
    args = ap.parse_args()
    lock = threading.Lock()
    counter = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                counter[0] += 1
                n = counter[0]
            record = {
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body.decode("utf-8", errors="replace"),
            }
            base = os.path.join(args.outdir, f"{n:04d}")
            with open(base + ".json.tmp", "w", encoding="utf-8") as f:
                json.dump(record, f, ensure_ascii=False)
            os.rename(base + ".json.tmp", base + ".json")
            code = 200
            answer = b"ok"
            path = urllib.parse.urlsplit(self.path).path
            if path.startswith("/status/"):
                code = int(path.split("/")[2])
                answer = f"server says {code}: the database is on fire\n".encode() + b"x" * 1000
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)

    def watch_stdin():
        while sys.stdin.buffer.read1(4096):
            pass
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
