#!/usr/bin/env python3
"""Drives headless Chromium (Debian's `chromium`) through the kura dashboard over the DevTools protocol,
the way a person would: load the overview, take a screenshot, click the source, click its newest
snapshot, click through the folders to a file, click the file, and wait for the browser's download.
Then compares the downloaded bytes with the expected file.

    browser_check.py --chromium /usr/bin/chromium --base http://127.0.0.1:PORT --out DIR
                     --source files --folder /abs/folder/in/snapshot --file name --expect /local/copy

Prints a JSON summary; exits 0 only when every step worked and the bytes match."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from websockets.sync.client import connect


class Browser:
    def __init__(self, chromium, profile):
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-dev-shm-usage", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "--window-size=1280,860", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "chromium.log"), "w"))
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and len(open(port_file).read().split()) >= 2):
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit("chromium did not start: " + open(os.path.join(profile, "chromium.log")).read()[-2000:])
            time.sleep(0.1)
        port, path = open(port_file).read().split()[:2]
        self.connection = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=20)
        self.ws = self.connection.__enter__()
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.time() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.time())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait(self, predicate, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if predicate(e):
                    del self.events[: i + 1]
                    return e
            self.events.clear()
            left = deadline - time.time()
            if left <= 0:
                raise RuntimeError("timed out waiting for an event")
            try:
                msg = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                raise RuntimeError("timed out waiting for an event")
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click_and_load(self, selector_js, what):
        self.events.clear()
        found = self.evaluate(f"(() => {{ const a = {selector_js}; if (!a) return null; const h = a.getAttribute('href'); a.click(); return h; }})()")
        if found is None:
            raise RuntimeError(f"no link for {what} on {self.evaluate('location.href')}")
        self.wait(lambda e: e.get("method") == "Page.loadEventFired")
        return found

    def close(self):
        try:
            self.connection.__exit__(None, None, None)
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    p.add_argument("--base", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--folder", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--screenshot", default="dashboard.png")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    downloads = os.path.join(a.out, "downloads")
    shutil.rmtree(downloads, ignore_errors=True)
    os.makedirs(downloads)
    profile = tempfile.mkdtemp(prefix="kura-chromium-")
    summary = {"steps": []}
    b = Browser(a.chromium, profile)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        b.session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        b.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads, "eventsEnabled": True}, session=False)
        b.send("Page.enable")
        b.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 860, "deviceScaleFactor": 1, "mobile": False})

        b.send("Page.navigate", {"url": a.base + "/"})
        b.wait(lambda e: e.get("method") == "Page.loadEventFired")
        title = b.evaluate("document.title")
        rows = b.evaluate("document.querySelectorAll('#sources tr[data-source]').length")
        summary["steps"].append({"overview": title, "sources": rows})
        height = b.evaluate("Math.min(1400, document.documentElement.scrollHeight)")
        b.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})
        shot = b.send("Page.captureScreenshot", {"format": "png"})["data"]
        import base64
        png = os.path.join(a.out, a.screenshot)
        with open(png, "wb") as f:
            f.write(base64.b64decode(shot))
        summary["screenshot"] = png

        src = json.dumps(a.source)
        b.click_and_load(f"document.querySelector('tr[data-source=' + JSON.stringify({src}) + '] a')", "the source")
        summary["steps"].append({"source page": b.evaluate("location.pathname")})
        b.click_and_load("document.querySelector('a.snapshot')", "the newest snapshot")
        summary["steps"].append({"snapshot page": b.evaluate("location.pathname")})
        for part in [x for x in a.folder.split("/") if x]:
            want = json.dumps(part + "/")
            b.click_and_load(f"[...document.querySelectorAll('a.dir')].find(x => x.textContent === {want})", f"folder {part}")
        summary["steps"].append({"folder": b.evaluate("decodeURIComponent(location.search)")})

        b.events.clear()
        want = json.dumps(a.file)
        href = b.evaluate(f"(() => {{ const x = [...document.querySelectorAll('a.file')].find(x => x.textContent === {want}); if (!x) return null; x.click(); return x.getAttribute('href'); }})()")
        if href is None:
            raise RuntimeError(f"no link for file {a.file}")
        done = b.wait(lambda e: e.get("method") == "Browser.downloadProgress" and e["params"].get("state") in ("completed", "canceled"), timeout=60)
        if done["params"]["state"] != "completed":
            raise RuntimeError("the download was canceled")
        names = os.listdir(downloads)
        got = open(os.path.join(downloads, names[0]), "rb").read() if len(names) == 1 else b""
        expected = open(a.expect, "rb").read()
        summary.update({"download": href, "files": names, "bytes": len(got), "expectedBytes": len(expected), "match": got == expected})
    except Exception as e:  # report, do not hide
        summary["error"] = str(e)
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(summary))
    sys.exit(0 if summary.get("match") else 1)


if __name__ == "__main__":
    main()
