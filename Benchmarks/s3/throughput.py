#!/usr/bin/env python3
"""Backup and restore of one corpus into a local repository and into an S3 repository on the loopback
test server (moto behind the signature-checking proxy), in one run: wall/user/sys time, MB/s, the
S3/local ratio, kura's peak RSS (GNU time) and the S3 requests of each phase. The loopback server is Python: its own CPU time
competes with kura's on this machine, so the ratio is an upper bound of what S3 costs kura.

    python3 Benchmarks/s3/throughput.py --kura .build/release/kura CORPUS_DIR
"""
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.path.join(ROOT, "Tests/KuraTestSupport/S3/s3_test_server.py")
KEY, SECRET, BUCKET = "AKIAKURABENCH000", "kura/bench+secret", "kura-bench"


def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try: total += os.lstat(os.path.join(d, f)).st_size
            except OSError: pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura", required=True)
    ap.add_argument("corpus")
    args = ap.parse_args()
    kura, corpus = os.path.abspath(args.kura), os.path.abspath(args.corpus)
    size = du(corpus)
    work = tempfile.mkdtemp(prefix="kura-s3-throughput-")
    server = subprocess.Popen([sys.executable, SERVER, "--bucket", BUCKET, "--key", f"{KEY}:{SECRET}"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.err"), "w"), text=True)
    base = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1",
               KURA_PASSWORD="bench-password", HOME=work)
    env.pop("KURA_PASSWORD_FILE", None)

    def control(method, path):
        return json.loads(urllib.request.urlopen(urllib.request.Request(base + "/__kura/" + path, method=method)).read() or b"{}")

    def timed(argv, repo):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.time()
        rss_file = os.path.join(work, "rss")
        # GNU time for the peak RSS (kura's own, not the server's).
        # `dump` writes the archive to /dev/null; everything else's output is kept for error messages.
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, kura, *argv, "--repo", repo], env=env, text=True,
                           stdout=subprocess.DEVNULL if argv[0] == "dump" else subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.time() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise SystemExit(f"kura {' '.join(argv)} failed: {p.stderr[-2000:]}")
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) / 1024
        return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, rss

    rows = []
    try:
        for name, repo in (("local", os.path.join(work, "repo")), ("S3", f"s3:{base}/{BUCKET}/bench")):
            subprocess.run([kura, "init", "-q", "--repo", repo], env=env, check=True, capture_output=True)
            for phase, argv in (("initial backup", ["backup", "-q", corpus]), ("no-change backup", ["backup", "-q", corpus]),
                                ("full restore", ["restore", "-q", "latest", "--target", os.path.join(work, f"restore-{name}")]),
                                ("dump (tar to /dev/null)", ["dump", "latest"])):
                control("POST", "reset-stats")
                wall, user, sys_, rss = timed(argv, repo)
                counts = control("GET", "stats")["counts"] if name == "S3" else {}
                rows.append((name, phase, wall, user, sys_, counts, rss))
            shutil.rmtree(os.path.join(work, f"restore-{name}"), ignore_errors=True)
        print(f"corpus {corpus}: {size / 1e6:.0f} MB")
        print("| phase | local wall (user/sys) | S3 wall (user/sys) | S3/local | S3 MB/s | peak RSS local / S3 | S3 requests |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for phase in ("initial backup", "no-change backup", "full restore", "dump (tar to /dev/null)"):
            l = next(r for r in rows if r[0] == "local" and r[1] == phase)
            s = next(r for r in rows if r[0] == "S3" and r[1] == phase)
            c = s[5]
            gets = c.get("GET", 0) - c.get("LIST", 0)
            req = f"PUT {c.get('PUT', 0)}, GET {gets}, LIST {c.get('LIST', 0)}, HEAD {c.get('HEAD', 0)}, DELETE {c.get('DELETE', 0)}"
            rate = f"{size / 1e6 / s[2]:.0f}" if phase != "no-change backup" else "–"
            print(f"| {phase} | {l[2]:.2f} s ({l[3]:.2f}/{l[4]:.2f}) | {s[2]:.2f} s ({s[3]:.2f}/{s[4]:.2f}) | {s[2] / l[2]:.2f} | {rate} "
                  f"| {l[6]:.0f} / {s[6]:.0f} MB | {req} |")
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
