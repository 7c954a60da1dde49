#!/usr/bin/env python3
"""Many hosts, one bucket: N hosts back up a small tree each into one S3 repository on the loopback
test server (moto behind the signature-checking proxy, Tests/KuraTestSupport/S3/s3_test_server.py),
then every host makes a no-change backup, first one after another, then P at a time. Prints wall time,
requests per backup by kind, and how often a backup met another's lock (all backups take shared locks,
so none should wait). One run; the figures go into docs/scaling.md.

    python3 Benchmarks/s3/many_hosts.py --kura .build/release/kura [--hosts 50] [--parallel 8]
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time, urllib.request, concurrent.futures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.path.join(ROOT, "Tests/KuraTestSupport/S3/s3_test_server.py")
KEY, SECRET, BUCKET = "AKIAKURABENCH000", "kura/bench+secret", "kura-bench"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura", required=True)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--files", type=int, default=200, help="files per host tree")
    args = ap.parse_args()
    kura = os.path.abspath(args.kura)
    work = tempfile.mkdtemp(prefix="kura-many-hosts-")
    server = subprocess.Popen([sys.executable, SERVER, "--bucket", BUCKET, "--key", f"{KEY}:{SECRET}"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.err"), "w"), text=True)
    port = int(server.stdout.readline().split()[1])
    base = f"http://127.0.0.1:{port}"
    location = f"s3:{base}/{BUCKET}/fleet"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1",
               KURA_PASSWORD="bench-password", HOME=work)
    env.pop("KURA_PASSWORD_FILE", None)

    def control(method, path):
        req = urllib.request.Request(base + "/__kura/" + path, method=method)
        return json.loads(urllib.request.urlopen(req).read() or b"{}")

    def run(argv, host_home):
        e = dict(env, HOME=host_home)
        t = time.time()
        p = subprocess.run([kura, *argv, "--repo", location], env=e, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"kura {' '.join(argv)} failed ({p.returncode}): {p.stderr[-2000:]}")
        return time.time() - t, p

    try:
        run(["init", "-q"], work)
        homes, trees = [], []
        for h in range(args.hosts):
            home = os.path.join(work, f"host{h:03d}")
            tree = os.path.join(home, "data")
            os.makedirs(tree)
            for i in range(args.files):
                with open(os.path.join(tree, f"f{i:04d}.txt"), "w") as f:
                    f.write(f"host {h} file {i}\n" * 50)
            homes.append(home); trees.append(tree)
        t0 = time.time()
        for h in range(args.hosts):
            run(["backup", "-q", "--host", f"host{h:03d}", trees[h]], homes[h])
        first = time.time() - t0

        def phase(parallel):
            control("POST", "reset-stats")
            t = time.time()
            times = []
            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                for d, _ in pool.map(lambda h: run(["backup", "-q", "--host", f"host{h:03d}", trees[h]], homes[h]), range(args.hosts)):
                    times.append(d)
            wall = time.time() - t
            counts = control("GET", "stats")["counts"]
            return wall, times, counts

        seq = phase(1)
        par = phase(args.parallel)
        objects = subprocess.run([kura, "stats", "--json", "--repo", location], env=env, capture_output=True, text=True).stdout

        def per(counts, k):
            return counts.get(k, 0) / args.hosts
        print(f"hosts {args.hosts}, {args.files} files each; first backups one after another: {first:.1f} s")
        for name, (wall, times, counts) in (("no-change, one at a time", seq), (f"no-change, {args.parallel} at a time", par)):
            gets = counts.get("GET", 0) - counts.get("LIST", 0)
            print(f"{name}: wall {wall:.1f} s, per backup median {sorted(times)[len(times)//2]:.2f} s, max {max(times):.2f} s; "
                  f"requests per backup: LIST {per(counts,'LIST'):.1f}, GET {gets/args.hosts:.1f}, HEAD {per(counts,'HEAD'):.1f}, "
                  f"PUT {per(counts,'PUT'):.1f}, DELETE {per(counts,'DELETE'):.1f}")
            print("   by folder: " + ", ".join(f"{k} {v/args.hosts:.1f}" for k, v in sorted(counts.items()) if " " in k))
        print("repository stats: " + objects.strip()[:400])
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
