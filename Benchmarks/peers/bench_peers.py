#!/usr/bin/env python3
"""Side-by-side benchmark of kura against restic and borg on the shared corpus.

    python3 Benchmarks/peers/bench_peers.py [--scale 1] [--workdir /tmp/kura-bench]
        [--kura PATH] [--out docs/benchmarks.md] [--svg docs/benchmarks.svg]
        [--tools kura,restic,borg] [--keep] [--corpus-script PATH] [--seed 7]

All tools run in ONE invocation against the same corpus with the same warm page
cache; the report gives ratios, which are what stays meaningful on a shared,
noisy machine. Every timed command runs once.

Phases (each tool gets a fresh repository in the workdir):
  day 0 (page cache warmed first): init (untimed in the table), initial backup,
      no-change backup (the same command again)
  `make-corpus.py --day 1` churn, page cache warmed, day-1 backup
  read phases (corpus and repositories warmed first): full restore of the
      latest snapshot (verified against the corpus), one file by path (verified),
      list snapshots, check with full data read
  repository size (du -sb) and peak RSS of the initial backup.

The corpus is generated once per (scale, seed) into WORKDIR/corpus-s<scale>-seed<seed>
(a marker file records how) and copied to WORKDIR/src for each run, so the day-1
churn never touches the pristine copy. Relative paths in the options are
resolved against the project root (the folder two levels above this script). Python 3 standard library only.
"""
import argparse
import datetime
import hashlib
import html
import json
import os
import platform
import random
import re
import shlex
import shutil
import subprocess
import sys
import time

SCRIPT = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(SCRIPT)))  # Benchmarks/peers/ -> project root
TOOLS = ("kura", "restic", "borg")
PASSWORD = "bench-peers-password"
BEGIN, END = "<!-- bench-peers:begin -->", "<!-- bench-peers:end -->"
TIME_PHASES = [  # (key, label) of the timed rows, in table and chart order
    ("initial", "initial backup"),
    ("nochange", "no-change backup"),
    ("day1", "day-1 backup"),
    ("restore", "full restore"),
    ("onefile", "one file by path"),
    ("snapshots", "list snapshots"),
    ("check", "check, full data read"),
]
MiB = 2 ** 20


def log(msg=""):
    print(msg, flush=True)


def die(msg):
    print(f"bench_peers: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


# ---------------------------------------------------------------- environment

def ensure_tools(tools):
    """restic, borg and GNU time; installed with apt-get when missing and we are root."""
    need = {"time": ("/usr/bin/time", "time")}
    if "restic" in tools:
        need["restic"] = ("restic", "restic")
    if "borg" in tools:
        need["borg"] = ("borg", "borgbackup")
    missing = [pkg for name, (exe, pkg) in need.items()
               if not (os.access(exe, os.X_OK) if exe.startswith("/") else shutil.which(exe))]
    if not missing:
        return
    if os.geteuid() != 0:
        die(f"missing Debian packages: {' '.join(missing)}; install them with "
            f"`sudo apt-get install -y {' '.join(missing)}` (or run this script as root)")
    log(f"installing: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def first_line(cmd, env=None):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        out = (p.stdout or p.stderr).strip().splitlines()
        return out[0] if out else "?"
    except Exception as e:  # noqa: BLE001 - informational only
        return f"? ({e})"


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "memory": mem}


def project_commit():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "") if rev else "?"
    except OSError:
        return "?"


# ---------------------------------------------------------------- corpus

def prepare_corpus(args):
    """Pristine day-0 corpus (generated or reused), copied to WORKDIR/src."""
    scale_tag = f"{args.scale:g}"
    pristine = os.path.join(args.workdir, f"corpus-s{scale_tag}-seed{args.seed}")
    marker = pristine + ".json"
    want = {"scale": args.scale, "seed": args.seed, "day": 0,
            "script_sha256": sha256_file(args.corpus_script)}
    have = None
    if os.path.isdir(pristine) and os.path.exists(marker):
        try:
            with open(marker) as f:
                have = json.load(f)
        except (OSError, ValueError):
            have = None
    if have == want:
        log(f"corpus: reusing {pristine} (marker matches scale {scale_tag}, seed {args.seed})")
    else:
        for p in (pristine, marker):
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
        log(f"corpus: generating scale {scale_tag}, seed {args.seed} into {pristine} ...")
        t = time.perf_counter()
        subprocess.run([sys.executable, args.corpus_script, pristine, "--scale", str(args.scale),
                        "--seed", str(args.seed)], check=True)
        with open(marker, "w") as f:
            json.dump(want, f)
        log(f"corpus: generated in {time.perf_counter() - t:.1f} s")
    src = os.path.join(args.workdir, "src")
    if os.path.exists(src):
        shutil.rmtree(src)
    subprocess.run(["cp", "-a", pristine, src], check=True)
    return src


def apply_day1(args, src):
    log("corpus: applying day-1 churn (make-corpus.py --day 1) ...")
    subprocess.run([sys.executable, args.corpus_script, src, "--scale", str(args.scale),
                    "--seed", str(args.seed), "--day", "1"], check=True)


def walk_files(root):
    """{relative path: size} of the regular files under root."""
    out = {}
    for dp, dns, fns in os.walk(root):
        dns.sort()
        for fn in fns:
            p = os.path.join(dp, fn)
            st = os.lstat(p)
            if not os.path.islink(p):
                out[os.path.relpath(p, root)] = st.st_size
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def warm(paths):
    """Read every file once so all tools start from the same warm page cache."""
    t = time.perf_counter()
    total = 0
    buf = bytearray(4 * MiB)
    for root in paths:
        if not os.path.exists(root):
            continue
        for dp, _, fns in os.walk(root):
            for fn in fns:
                p = os.path.join(dp, fn)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                try:
                    with open(p, "rb", buffering=0) as f:
                        while True:
                            n = f.readinto(buf)
                            if not n:
                                break
                            total += n
                except OSError:
                    pass
    os.sync()
    log(f"  (page cache warmed: {total / MiB:.0f} MiB in {time.perf_counter() - t:.1f} s)")


def pick_sample(files, n=50):
    """About n files spread over the sorted list, always including the largest (deterministic)."""
    names = sorted(files)
    if not names:
        return []
    rng = random.Random(1234)
    sample = set(rng.sample(names, min(n - 1, len(names))))
    sample.add(max(names, key=lambda k: (files[k], k)))
    return sorted(sample)


def pick_one_file(files):
    """A mid-size image of the day-0 tree (images are never changed by the churn)."""
    imgs = sorted((size, rel) for rel, size in files.items()
                  if rel.startswith("media_volume/images/u") and rel.endswith(".jpg"))
    if not imgs:
        imgs = sorted((size, rel) for rel, size in files.items())
    return imgs[len(imgs) // 2][1]


# ---------------------------------------------------------------- running

class Result:
    def __init__(self, ok, seconds=None, rss_kib=None, note="", tail="", user=None, sys=None):
        self.ok, self.seconds, self.rss_kib, self.note, self.tail = ok, seconds, rss_kib, note, tail
        self.user, self.sys = user, sys


def run_timed(argv, env, cwd=None, stdout_path=None, label=""):
    """Runs argv once under /usr/bin/time; wall time from a monotonic clock around it
    (finer than %e); peak RSS (%M, KiB), user and system CPU seconds (%U, %S) from GNU time."""
    os.sync()  # earlier writes must not be flushed on this command's clock
    tf = os.path.join(env["BENCH_WORKDIR"], ".time")
    errf = os.path.join(env["BENCH_WORKDIR"], ".stderr")
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    try:
        with open(errf, "wb") as err:
            t = time.perf_counter()
            p = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf, *argv],
                               cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            wall = time.perf_counter() - t
    finally:
        if stdout_path:
            out.close()
    rss = user = sys_s = None
    try:
        with open(tf) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        fields = lines[-1].split()
        rss, user, sys_s = int(fields[1]), float(fields[2]), float(fields[3])
    except (OSError, ValueError, IndexError):
        pass
    with open(errf, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    if p.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-12:])
        log(f"  FAILED ({label}): exit {p.returncode}: {shlex.join(argv)}")
        for l in tail.splitlines():
            log(f"    | {l}")
        return Result(False, wall, rss, note=f"exit {p.returncode}", tail=tail, user=user, sys=sys_s)
    log(f"  {label:<28} {wall:8.2f} s  {(rss or 0) / 1024:7.0f} MiB RSS  {user or 0:6.2f} user {sys_s or 0:6.2f} sys")
    return Result(True, wall, rss, user=user, sys=sys_s)


# ---------------------------------------------------------------- floors

# Reads and SHA-256-hashes every file of a list given on stdin (one path per line); one of N workers.
FLOOR_HASH_WORKER = r"""
import hashlib, sys
buf = bytearray(1 << 20)
view = memoryview(buf)
for path in sys.stdin.read().split("\0"):
    if not path:
        continue
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
"""


def floor_read_hash(root, env, workers):
    """The hardware floor of an initial backup: read every byte of the tree and SHA-256 it once, on all
    cores (`workers` Python processes, files dealt round-robin by size so each gets the same bytes;
    hashlib releases the GIL but one process per core keeps it simple). Best of three, warm cache."""
    files = sorted(walk_files(root).items(), key=lambda kv: -kv[1])
    shares = [[] for _ in range(workers)]
    loads = [0] * workers
    for rel, size in files:
        i = loads.index(min(loads))
        shares[i].append(os.path.join(root, rel))
        loads[i] += size
    best = None
    for _ in range(3):
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", FLOOR_HASH_WORKER], stdin=subprocess.PIPE, env=env)
                 for _ in range(workers)]
        for p, share in zip(procs, shares):
            p.stdin.write("\0".join(share).encode("utf-8", "surrogateescape"))
            p.stdin.close()
        ok = all(p.wait() == 0 for p in procs)
        wall = time.perf_counter() - t
        if ok and (best is None or wall < best):
            best = wall
    log(f"  {'floor: read + SHA-256':<28} {best or 0:8.2f} s  ({workers} processes, best of 3)")
    return Result(best is not None, best, note="" if best is not None else "failed")


def floor_command(argv, env, label):
    """A floor measured by one command (best of three): the walk, the copy."""
    best = None
    for _ in range(3):
        r = run_timed(argv, env, label=label)
        if r.ok and (best is None or r.seconds < best.seconds):
            best = r
    return best or Result(False, note="failed")


def du_bytes(path):
    try:
        return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True)
                   .stdout.split()[0])
    except (subprocess.CalledProcessError, ValueError, IndexError):
        return None


class Tool:
    """Command lines of one tool. REPO and paths are absolute."""

    def __init__(self, name, args, base_env):
        self.name = name
        self.repo = os.path.join(args.workdir, "repo-" + name)
        self.env = dict(base_env)
        self.kura = args.kura
        if name == "kura":
            self.env["KURA_PASSWORD"] = PASSWORD
        elif name == "restic":
            self.env["RESTIC_PASSWORD"] = PASSWORD
        elif name == "borg":
            self.env.update(BORG_PASSPHRASE=PASSWORD, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes",
                            BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")

    def init(self):
        return {"kura": [self.kura, "init", "-q", "-r", self.repo],
                "restic": ["restic", "-r", self.repo, "init"],
                "borg": ["borg", "init", "--encryption=repokey-blake2", self.repo]}[self.name]

    def backup(self, src, archive):
        return {"kura": [self.kura, "backup", "-q", "-r", self.repo, src],
                "restic": ["restic", "-r", self.repo, "backup", "-q", src],
                "borg": ["borg", "create", f"{self.repo}::{archive}", src]}[self.name]

    def restore(self, target, archive):
        return {"kura": [self.kura, "restore", "-q", "-r", self.repo, "latest", "--target", target],
                "restic": ["restic", "-r", self.repo, "restore", "latest", "--target", target],
                "borg": ["borg", "extract", f"{self.repo}::{archive}"]}[self.name]

    def one_file(self, abspath, archive):
        return {"kura": [self.kura, "cat", "-r", self.repo, "latest:" + abspath],
                "restic": ["restic", "-r", self.repo, "dump", "latest", abspath],
                "borg": ["borg", "extract", "--stdout", f"{self.repo}::{archive}",
                         abspath.lstrip("/")]}[self.name]

    def snapshots(self):
        return {"kura": [self.kura, "snapshots", "-r", self.repo, "-q"],
                "restic": ["restic", "-r", self.repo, "snapshots", "-q"],
                "borg": ["borg", "list", self.repo]}[self.name]

    def check(self):
        return {"kura": [self.kura, "check", "--read-data", "-r", self.repo],
                "restic": ["restic", "-r", self.repo, "check", "--read-data"],
                "borg": ["borg", "check", "--verify-data", self.repo]}[self.name]


UNKNOWN_SUBCOMMAND = re.compile(r"unexpected argument|unknown option|unknown (sub)?command|no such (sub)?command",
                                re.IGNORECASE)


def kura_has_check(kura):
    """True when `kura --help` lists a `check` subcommand."""
    try:
        text = subprocess.run([kura, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return True
    return re.search(r"^\s+check(\s|$)", text, re.MULTILINE) is not None


def verify_restore(restored_root, expected, sample, src):
    """File list and sizes of every file, sha256 of the sample. Returns (ok, message)."""
    if not os.path.isdir(restored_root):
        return False, f"{restored_root} does not exist"
    got = walk_files(restored_root)
    problems = []
    if len(got) != len(expected):
        problems.append(f"{len(got)} files restored, {len(expected)} expected")
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if extra:
        problems.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
    wrong_size = [k for k in expected if k in got and got[k] != expected[k]]
    if wrong_size:
        problems.append(f"{len(wrong_size)} with wrong size (e.g. {wrong_size[0]})")
    bad_hash = [k for k in sample if k in got and sha256_file(os.path.join(restored_root, k))
                != sha256_file(os.path.join(src, k))]
    if bad_hash:
        problems.append(f"{len(bad_hash)} of {len(sample)} sampled files differ (e.g. {bad_hash[0]})")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(got)} files, sizes equal, {len(sample)} sampled sha256 equal"


# ---------------------------------------------------------------- the run

def run(args):
    tools = args.tools
    os.makedirs(args.workdir, exist_ok=True)
    base_env = dict(os.environ)
    # Fresh, private caches and config for every tool (restic cache, borg cache/security dirs).
    for sub in ("xdg-cache", "xdg-config"):
        d = os.path.join(args.workdir, sub)
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
    base_env.update(XDG_CACHE_HOME=os.path.join(args.workdir, "xdg-cache"),
                    XDG_CONFIG_HOME=os.path.join(args.workdir, "xdg-config"),
                    BENCH_WORKDIR=args.workdir, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    for k in ("KURA_REPOSITORY", "KURA_PASSWORD_FILE", "RESTIC_REPOSITORY", "RESTIC_PASSWORD_FILE",
              "RESTIC_PASSWORD_COMMAND", "BORG_REPO", "BORG_PASSCOMMAND", "BORG_BASE_DIR"):
        base_env.pop(k, None)
    T = {name: Tool(name, args, base_env) for name in tools}
    R = {name: {} for name in tools}   # R[tool][phase] = Result
    V = {name: {} for name in tools}   # verification messages
    notes = []

    src = prepare_corpus(args)
    day0_files = walk_files(src)
    one_rel = pick_one_file(day0_files)
    one_abs = os.path.join(src, one_rel)
    log(f"corpus: {len(day0_files)} files, {sum(day0_files.values()) / MiB:.0f} MiB at {src}")

    # ---- day 0
    log("\n== day 0: init, initial backup, no-change backup")
    warm([src])
    floors = {}
    log(" floor (what the hardware allows; tools must at least read and hash every byte, or lstat every entry)")
    floors["initial"] = floor_read_hash(src, base_env, os.cpu_count() or 1)
    walk = ["find", src, "-printf", "%s %T@ %i\n"]
    floors["nochange"] = floor_command(walk, base_env, "floor: walk (find -printf)")
    for name in tools:
        t = T[name]
        if os.path.exists(t.repo):
            shutil.rmtree(t.repo)
        log(f" {name}")
        R[name]["init"] = run_timed(t.init(), t.env, label="init")
        R[name]["initial"] = run_timed(t.backup(src, "day0"), t.env, label="initial backup")
        R[name]["nochange"] = run_timed(t.backup(src, "day0-again"), t.env, label="no-change backup")
        R[name]["size0"] = du_bytes(t.repo)

    # ---- day 1
    apply_day1(args, src)
    day1_files = walk_files(src)
    log(f"corpus after day 1: {len(day1_files)} files, {sum(day1_files.values()) / MiB:.0f} MiB")
    log("\n== day 1: backup after churn")
    warm([src])
    for name in tools:
        t = T[name]
        log(f" {name}")
        R[name]["day1"] = run_timed(t.backup(src, "day1"), t.env, label="day-1 backup")
        R[name]["size"] = du_bytes(t.repo)
    floors["day1"] = floor_command(walk, base_env, "floor: walk (find -printf)")

    # ---- reads
    log("\n== reads: restore, one file, snapshots, check")
    sample = pick_sample(day1_files)
    one_sha = sha256_file(one_abs)
    warm([src] + [T[n].repo for n in tools])
    # Restore targets (and the floor's copies) are deleted only at the end: on ext4, creating files
    # shortly after tens of thousands were deleted sends the inode allocator through the recently
    # deleted ones (`recently_deleted`, `find_inode_bit` in a profile), which made whichever tool came
    # after a deletion pay several seconds of system time for the one before it.
    leftovers = []
    for name in tools:
        t = T[name]
        log(f" {name}")
        target = os.path.join(args.workdir, "restore-" + name)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.makedirs(target)
        r = run_timed(t.restore(target, "day1"), t.env, cwd=target, label="full restore")
        R[name]["restore"] = r
        if r.ok:
            ok, msg = verify_restore(target + src, day1_files, sample, src)
            V[name]["restore"] = (ok, msg)
            log(f"    restore verification: {'ok' if ok else 'MISMATCH'}: {msg}")
        leftovers.append(target)

        out = os.path.join(args.workdir, f"onefile-{name}.out")
        r = run_timed(t.one_file(one_abs, "day1"), t.env, stdout_path=out, label="one file by path")
        R[name]["onefile"] = r
        if r.ok:
            ok = os.path.exists(out) and sha256_file(out) == one_sha
            msg = (f"{one_rel}: {os.path.getsize(out)} bytes, "
                   + ("sha256 equal" if ok else f"differs from the corpus ({day1_files[one_rel]} bytes)"))
            V[name]["onefile"] = (ok, msg)
            log(f"    one-file verification: {'ok' if ok else 'MISMATCH'}: {msg}")
        if os.path.exists(out):
            os.remove(out)
        R[name]["snapshots"] = run_timed(t.snapshots(), t.env, label="list snapshots")

        r = run_timed(t.check(), t.env, label="check --read-data")
        if (not r.ok and name == "kura" and UNKNOWN_SUBCOMMAND.search(r.tail or "")
                and not kura_has_check(args.kura)):
            log("    kura has no `check` subcommand yet: recorded as n/a")
            r = Result(False, None, None, note="n/a")
        R[name]["check"] = r

    best = None
    for i in range(3):
        copy_target = os.path.join(args.workdir, f"restore-floor-{i}")
        shutil.rmtree(copy_target, ignore_errors=True)
        r = run_timed(["cp", "-a", src, copy_target], base_env, label="floor: cp -a of the tree")
        leftovers.append(copy_target)
        if r.ok and (best is None or r.seconds < best.seconds):
            best = r
    floors["restore"] = best or Result(False, note="failed")
    for d in leftovers:
        shutil.rmtree(d, ignore_errors=True)
    R["floor"] = floors
    table = build_table(tools, R, V)
    for name in tools:
        for phase, res in R[name].items():
            if isinstance(res, Result) and not res.ok and res.note != "n/a":
                notes.append((name, phase, res.note, res.tail))
    del R["floor"]
    R_floor = floors
    if not args.keep:
        for name in tools:
            shutil.rmtree(T[name].repo, ignore_errors=True)
        shutil.rmtree(src, ignore_errors=True)
    return (table, cpu_table(tools, R), R, V, notes, (one_rel, day0_files[one_rel]), len(day0_files),
            sum(day0_files.values()), R_floor)


# ---------------------------------------------------------------- table

def cell_time(res, verify=None):
    if res is None:
        return "—", None
    if not res.ok:
        return ("n/a" if res.note == "n/a" else "FAILED"), None
    s = f"{res.seconds:.2f}"
    if verify is not None and not verify[0]:
        s += " (MISMATCH)"
    return s, res.seconds


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def build_table(tools, R, V):
    """Rows of [label, floor, kura, restic, borg, kura/restic, kura/borg, kura/floor, target, status].
    R["floor"] holds the floors (phase -> Result) where one is defined."""
    floors = R.get("floor", {})

    def floor_of(phase):
        f = floors.get(phase)
        return f.seconds if isinstance(f, Result) and f.ok else None

    def val(tool, phase):
        if tool not in R:
            return None
        res = R[tool].get(phase)
        if isinstance(res, Result):
            if not res.ok:
                return None
            v = V[tool].get(phase)
            return None if (v is not None and not v[0]) else res.seconds
        return res

    def status(ok):
        return "—" if ok is None else ("met" if ok else "missed")

    def le(a, b, factor=1.0, plus=0.0):
        return None if a is None or b is None else a <= b * factor + plus

    rows = []
    targets = {
        "initial": ("≤ 3× floor and ≤ 1/3 restic",
                    lambda k, r, b: None if le(k, floor_of("initial"), 3) is None or le(k, r, 1 / 3) is None
                    else le(k, floor_of("initial"), 3) and le(k, r, 1 / 3)),
        "nochange": ("≤ 1/8 restic", lambda k, r, b: le(k, r, 1 / 8)),
        "day1": ("≤ 1/5 restic", lambda k, r, b: le(k, r, 1 / 5)),
        "restore": ("≤ 1/3 restic", lambda k, r, b: le(k, r, 1 / 3)),
        "onefile": ("≤ kura snapshots + 50 ms and < restic dump",
                    lambda k, r, b: None if k is None or r is None or val("kura", "snapshots") is None
                    else (k <= val("kura", "snapshots") + 0.050 and k < r)),
        "snapshots": ("", None),
        "check": ("≤ 1/3 borg", lambda k, r, b: le(k, b, 1 / 3)),
    }
    for key, label in TIME_PHASES:
        cells, nums = [], {}
        for tool in TOOLS:
            if tool not in R:
                cells.append("—")
                nums[tool] = None
                continue
            c, _ = cell_time(R[tool].get(key), V[tool].get(key))
            cells.append(c)
            nums[tool] = val(tool, key)
        text, fn = targets[key]
        st = status(fn(nums["kura"], nums["restic"], nums["borg"])) if fn else ""
        if fn and cells[0] == "n/a":
            st = "n/a"
        fl = floor_of(key)
        rows.append([label + " (s)", "—" if fl is None else f"{fl:.2f}", *cells,
                     ratio(nums["kura"], nums["restic"]), ratio(nums["kura"], nums["borg"]),
                     ratio(nums["kura"], fl), text, st])

    def size_row(label, key, target, fmt, scale):
        nums = {tool: (R[tool].get(key) if tool in R else None) for tool in TOOLS}
        peak = {tool: (nums[tool].rss_kib if isinstance(nums[tool], Result) else nums[tool]) for tool in TOOLS}
        if key == "initial":
            peak = {tool: (nums[tool].rss_kib if isinstance(nums[tool], Result) and nums[tool].ok else None)
                    for tool in TOOLS}
        cells = [("—" if tool not in R else ("FAILED" if peak[tool] is None else fmt.format(peak[tool] / scale)))
                 for tool in TOOLS]
        st = status(le(peak["kura"], peak["restic"])) if target else ""
        rows.append([label, "—", *cells, ratio(peak["kura"], peak["restic"]), ratio(peak["kura"], peak["borg"]),
                     "—", target, st])

    size_row("repository size after day 0 (MiB, du -sb)", "size0", "", "{:.1f}", MiB)
    size_row("repository size after day 1 (MiB, du -sb)", "size", "≤ restic", "{:.1f}", MiB)
    size_row("peak RSS, initial backup (MiB)", "initial", "≤ restic", "{:.0f}", 1024)
    return rows


HEADER = ["phase", "floor", "kura", "restic", "borg", "kura/restic", "kura/borg", "kura/floor", "target", "status"]
CPU_PHASES = [("initial", "initial backup"), ("nochange", "no-change backup"), ("day1", "day-1 backup"),
              ("restore", "full restore"), ("check", "check, full data read")]


def cpu_table(tools, R):
    """Rows of [phase, then user s, sys s, peak RSS MiB for each tool] (GNU time)."""
    rows = []
    for key, label in CPU_PHASES:
        row = [label]
        for t in tools:
            r = R[t].get(key)
            if isinstance(r, Result) and r.ok and r.user is not None:
                row += [f"{r.user:.2f}", f"{r.sys:.2f}", f"{(r.rss_kib or 0) / 1024:.0f}"]
            else:
                row += ["—", "—", "—"]
        rows.append(row)
    return rows


def cpu_header(tools):
    return ["phase"] + [f"{t} {c}" for t in tools for c in ("user s", "sys s", "RSS MiB")]


def render_text(rows, header=HEADER, left=(0, 8)):
    w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w[i]) if i in left else str(c).rjust(w[i])
                               for i, c in enumerate(r))
    return "\n".join([line(header), "  ".join("-" * x for x in w)] + [line(r) for r in rows])


def render_md(rows, header=HEADER):
    aligns = ["---" if h in ("phase", "target", "status") else "---:" for h in header]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


# ---------------------------------------------------------------- svg

COLORS = {"kura": "#c0392b", "restic": "#2471a3", "borg": "#7d8c2e"}


def render_svg(tools, R, title):
    """Small multiples: one group of horizontal bars per timed phase, each on its own scale."""
    phases = [(k, l) for k, l in TIME_PHASES]
    bar_h, gap, group_gap = 16, 3, 26
    left, right, top = 190, 90, 58
    width = 760
    plot_w = width - left - right
    group_h = len(tools) * (bar_h + gap) - gap
    height = top + len(phases) * (group_h + group_gap) + 30
    e = html.escape
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{e(title)}</text>',
         f'<text x="{width / 2}" y="40" text-anchor="middle" fill="#555">wall seconds, shorter is better; '
         f'each phase on its own scale</text>']
    lx = left
    for i, t in enumerate(tools):
        s.append(f'<rect x="{lx + i * 90}" y="{height - 22}" width="12" height="12" fill="{COLORS[t]}"/>')
        s.append(f'<text x="{lx + i * 90 + 16}" y="{height - 12}">{e(t)}</text>')
    y = top
    for key, label in phases:
        vals = {}
        for t in tools:
            r = R[t].get(key)
            vals[t] = r.seconds if isinstance(r, Result) and r.ok else None
        vmax = max([v for v in vals.values() if v is not None] or [1.0]) or 1.0
        s.append(f'<text x="{left - 10}" y="{y + group_h / 2 + 4}" text-anchor="end" '
                 f'font-weight="bold">{e(label)}</text>')
        s.append(f'<line x1="{left}" y1="{y - 4}" x2="{left}" y2="{y + group_h + 4}" stroke="#999"/>')
        for i, t in enumerate(tools):
            by = y + i * (bar_h + gap)
            v = vals[t]
            if v is None:
                r = R[t].get(key)
                txt = "n/a" if isinstance(r, Result) and r.note == "n/a" else "FAILED"
                s.append(f'<text x="{left + 6}" y="{by + bar_h - 4}" fill="#900">{t}: {txt}</text>')
                continue
            w = max(1.0, plot_w * v / vmax)
            s.append(f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar_h}" fill="{COLORS[t]}">'
                     f'<title>{e(t)} {e(label)}: {v:.2f} s</title></rect>')
            s.append(f'<text x="{left + w + 5:.1f}" y="{by + bar_h - 4}">{v:.2f} s</text>')
        y += group_h + group_gap
    s.append("</svg>")
    return "\n".join(s) + "\n"


# ---------------------------------------------------------------- report

def build_section(args, rows, cpu_rows, R, V, notes, one_rel, nfiles, nbytes, versions, started, svg_rel, elapsed):
    m = machine_info()
    cmd = shlex.join(["python3", os.path.relpath(SCRIPT, ROOT)] + sys.argv[1:])
    L = [BEGIN, "",
         f"Measured {started:%Y-%m-%d %H:%M %Z}".rstrip() + f" with `{cmd}` (run from the project root).", "",
         f"- machine: {m['nproc']} cores, {m['cpu']}, {m['memory']} RAM, Linux {m['kernel']}",
         f"- kura: `{versions['kura']}` ({args.kura}; project tree at commit {versions['commit']})"]
    if "restic" in args.tools:
        L.append(f"- restic: `{versions['restic']}`")
    if "borg" in args.tools:
        L.append(f"- borg: `{versions['borg']}`")
    L += [f"- corpus: `make-corpus.py --scale {args.scale:g} --seed {args.seed}` "
          f"({nfiles} files, {nbytes / MiB:.0f} MiB), then `--day 1` churn before the day-1 backup",
          "- options: defaults for every tool. kura: zstd level 3, 512 KiB / 1 MiB / 8 MiB chunks, "
          "AES-256-GCM; restic: repository version 2 (`stable`), compression `auto` (zstd), AES-256-CTR + Poly1305-AES; "
          "borg: `init --encryption=repokey-blake2`, `create` with the default compression (lz4) and chunker",
          "- every timed command ran **once**, one after another in a single run, from the same warm page cache "
          "(every corpus file read before the day-0 and day-1 backups; corpus and all repositories read before "
          "the read phases) and after a `sync`. Wall time is a monotonic clock around the process; RSS is GNU "
          "`time`'s `%M`. The machine is shared: absolute numbers are noisy, ratios are the point.",
          f"- one file by path: `{one_rel[0]}` ({one_rel[1] / 1024:.0f} KiB, the same in both days); "
          "`kura cat`, `restic dump`, `borg extract --stdout`; "
          "list snapshots = `kura snapshots -q`, `restic snapshots -q`, `borg list`",
          "- floor: what the hardware allows, measured in the same run (best of three). Initial backup: "
          "read every byte of the corpus and SHA-256 it once, one Python `hashlib` process per core. "
          "No-change and day-1 backup: the walk, `find TREE -printf '%s %T@ %i'` (an lstat of every entry). "
          "Full restore: `cp -a` of the corpus (create every file, write every byte).",
          f"- the whole run took {elapsed:.0f} s.",
          "", render_md(rows), "",
          "CPU time and memory of the same commands (GNU `time`: user and system seconds, peak RSS):", "",
          render_md(cpu_rows, cpu_header(args.tools)), ""]
    ver = []
    for t in args.tools:
        for phase in ("restore", "onefile"):
            v = V[t].get(phase)
            if v:
                ver.append(f"- {t} {'restore' if phase == 'restore' else 'one file'}: "
                           f"{'verified' if v[0] else '**MISMATCH**'} ({v[1]})")
    if ver:
        L += ["Verification:", ""] + ver + [""]
    if notes:
        L += ["Failures:", ""]
        for t, phase, note, tail in notes:
            L.append(f"- {t} {phase}: {note}")
            if tail:
                L += ["", "  ```", *["  " + l for l in tail.splitlines()], "  ```"]
        L.append("")
    if R.get("kura", {}).get("check") is not None and R["kura"]["check"].note == "n/a":
        L += ["`kura check` does not exist yet: its row shows n/a.", ""]
    if svg_rel:
        L += [f"![time per phase]({svg_rel})", ""]
    L.append(END)
    return "\n".join(L)


def write_markdown(path, section):
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
            a, b = text.index(BEGIN), text.index(END) + len(END)
            text = text[:a] + section + text[b:]
        else:
            text = text.rstrip("\n") + "\n\n## kura vs restic vs borg\n\n" + section + "\n"
    else:
        text = ("# Benchmarks\n\n"
                "## kura vs restic vs borg\n\n"
                "Backup, restore, single-file and check times of kura, restic and borg on the same corpus "
                "(a synthetic web-service volume: images, videos, game zips, many small JSON files, a growing "
                "log), produced by `Benchmarks/peers/bench_peers.py` (`make bench-peers`). Below: the machine, "
                "tool versions, date, scale and exact command of the last run, then the table.\n\n"
                + section + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Benchmark kura against restic and borg.")
    ap.add_argument("--scale", type=float, default=1.0, help="corpus scale (1 is about 1.2 GiB)")
    ap.add_argument("--seed", type=int, default=7, help="corpus seed")
    ap.add_argument("--workdir", default="/tmp/kura-bench", help="corpus, repositories, restores (relative: to the project root)")
    ap.add_argument("--kura", default=".build/release/kura", help="kura binary (relative: to the project root)")
    ap.add_argument("--out", default="docs/benchmarks.md", help="markdown report (relative: to the project root)")
    ap.add_argument("--svg", default="docs/benchmarks.svg", help="SVG chart (relative: to the project root)")
    ap.add_argument("--tools", default="kura,restic,borg", help="comma-separated subset of kura,restic,borg")
    ap.add_argument("--keep", action="store_true", help="keep repositories and the working tree")
    ap.add_argument("--corpus-script", default=os.path.join(ROOT, "..", "shared", "bench", "make-corpus.py"),
                    help="make-corpus.py (default: <project root>/../shared/bench/make-corpus.py)")
    args = ap.parse_args()

    rel = lambda p: p if os.path.isabs(p) else os.path.join(ROOT, p)
    args.kura, args.out, args.svg = rel(args.kura), rel(args.out), rel(args.svg)
    args.workdir = os.path.abspath(rel(args.workdir))
    args.corpus_script = os.path.abspath(rel(args.corpus_script))
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in args.tools if t not in TOOLS]
    if bad or not args.tools:
        die(f"--tools takes a comma-separated subset of {','.join(TOOLS)} (got {bad or 'nothing'})")
    args.tools = [t for t in TOOLS if t in args.tools]
    if "kura" not in args.tools:
        die("--tools must include kura (the table is relative to it)")
    if not os.access(args.kura, os.X_OK):
        die(f"no kura binary at {args.kura}; build it with `swift build -c release --product kura` "
            f"or pass --kura PATH")
    if not os.path.isfile(args.corpus_script):
        die(f"no corpus script at {args.corpus_script}; pass --corpus-script PATH")
    if args.scale <= 0:
        die("--scale must be positive")
    ensure_tools(args.tools)

    started = datetime.datetime.now().astimezone()
    # The commit is taken now: the run itself rewrites the tracked chart and page at the end.
    versions = {"commit": project_commit(), "kura": "kura " + first_line([args.kura, "--version"]),
                "restic": first_line(["restic", "version"]) if "restic" in args.tools else "",
                "borg": first_line(["borg", "--version"]) if "borg" in args.tools else ""}
    m = machine_info()
    log(f"machine: {m['nproc']} cores, {m['cpu']}, {m['memory']}, Linux {m['kernel']}")
    for t in args.tools:
        log(f"{t}: {versions[t]}")

    t0 = time.perf_counter()
    rows, cpu_rows, R, V, notes, one_rel, nfiles, nbytes, _ = run(args)
    elapsed = time.perf_counter() - t0
    log(f"\n== results (scale {args.scale:g}, each command once; total {elapsed:.0f} s)\n")
    log(render_text(rows))
    log("")
    log(render_text(cpu_rows, cpu_header(args.tools), left=(0,)))
    for t in args.tools:
        for phase in ("restore", "onefile"):
            v = V[t].get(phase)
            if v and not v[0]:
                log(f"\n{t} {phase} verification MISMATCH: {v[1]}")
    if notes:
        log("\nfailures:")
        for t, phase, note, tail in notes:
            log(f"  {t} {phase}: {note}")
            for l in (tail or "").splitlines():
                log(f"    | {l}")

    svg_rel = None
    if args.svg:
        os.makedirs(os.path.dirname(os.path.abspath(args.svg)), exist_ok=True)
        with open(args.svg, "w") as f:
            f.write(render_svg(args.tools, R, f"kura vs restic vs borg, scale {args.scale:g}"))
        svg_rel = os.path.relpath(args.svg, os.path.dirname(os.path.abspath(args.out)))
    section = build_section(args, rows, cpu_rows, R, V, notes, one_rel, nfiles, nbytes, versions, started, svg_rel,
                            elapsed)
    write_markdown(args.out, section)
    log(f"\nwrote {args.out}" + (f" and {args.svg}" if args.svg else ""))
    return 1 if notes or any(v and not v[0] for t in args.tools for v in V[t].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
