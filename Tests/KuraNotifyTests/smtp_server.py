#!/usr/bin/env python3
"""A real SMTP server on loopback for kura's notification tests (aiosmtpd).

Listens on 127.0.0.1 on a free port and prints "PORT <n>" once it accepts connections. Every message
it receives is written to OUTDIR as NNNN.eml (the raw bytes) and NNNN.json: the envelope, and the
message as Python's own e-mail parser reads it (decoded subject, headers, and each MIME part's decoded
text), so that the Swift tests check kura's output against an independent parser.

  --starttls CERT KEY     offer STARTTLS and require it before MAIL
  --implicit-tls CERT KEY speak TLS from the first byte (SMTPS)
  --auth USER PASS        require AUTH with this user and password
  --auth-mechanisms M,... offer only these AUTH mechanisms (default: LOGIN,PLAIN)

Stops on SIGTERM, on end of standard input, or after --lifetime seconds (default 120).
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse_message(raw: bytes) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({
            "contentType": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transferEncoding": part.get("Content-Transfer-Encoding"),
            "content": part.get_content(),
        })
    raw_headers = email.message_from_bytes(raw, policy=email.policy.compat32)
    return {
        "subject": str(msg["Subject"]),
        "rawSubject": raw_headers["Subject"],
        "from": str(msg["From"]),
        "to": [str(a) for a in msg["To"].addresses] if msg["To"] else [],
        "date": str(msg["Date"]),
        "messageID": str(msg["Message-ID"]),
        "mimeVersion": str(msg["MIME-Version"]),
        "contentType": msg.get_content_type(),
        "headers": {k: str(v) for k, v in msg.items()},
        "defects": [repr(d) for d in msg.defects],
        "parts": parts,
    }


class Recorder:
    def __init__(self, outdir: str):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, f"{self.count:04d}")
        raw = envelope.original_content or envelope.content
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": session.authenticated,
            "ehlo": session.host_name,
            "message": parse_message(raw),
        }
        tmp = base + ".json.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(tmp, base + ".json")  # a reader never sees half a file
        return "250 OK"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth", nargs=2, metavar=("USER", "PASS"))
    ap.add_argument("--auth-mechanisms", default="LOGIN,PLAIN")
    ap.add_argument("--lifetime", type=float, default=120)
    args = ap.parse_args()

    context = None
    cert = args.starttls or args.implicit_tls
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert[0], cert[1])

    authenticator = None
    excluded = []
    if args.auth:
        user, password = args.auth[0].encode(), args.auth[1].encode()

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login == user and data.password == password
            return AuthResult(success=ok, handled=False)

        offered = {m.strip().upper() for m in args.auth_mechanisms.split(",")}
        excluded = [m for m in ("LOGIN", "PLAIN") if m not in offered]

    recorder = Recorder(args.outdir)

    def factory():
        return SMTP(
            recorder,
            hostname="kura-test-smtp",
            tls_context=context if args.starttls else None,
            require_starttls=bool(args.starttls),
            auth_required=bool(args.auth),
            auth_require_tls=not args.implicit_tls,  # implicit TLS is TLS too, aiosmtpd just does not know it
            authenticator=authenticator,
            auth_exclude_mechanism=excluded,
            timeout=30,
        )

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        factory, host="127.0.0.1", port=0, ssl=context if args.implicit_tls else None))
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)

    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    loop.call_later(args.lifetime, lambda: stop.done() or stop.set_result(None))
    # The test holds our standard input open; when it goes away, so do we.
    loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.buffer.read1(4096) or (stop.done() or stop.set_result(None))))
    loop.run_until_complete(stop)
    server.close()
    loop.run_until_complete(server.wait_closed())


if __name__ == "__main__":
    main()
