#!/usr/bin/env python3
"""Per-thread timeline of a kura run from `perf script` output: what each thread did, bucket by bucket.

    perf record -F 10000 -g -o perf.data kura backup -q --repo R CORPUS
    perf script -i perf.data -F tid,time,ip,sym > samples.txt
    python3 Benchmarks/profile/timeline.py samples.txt [--bucket-ms 10]

Each row is one time bucket; each column one thread, with the pipeline stage seen most in that
bucket (the innermost frame matching a known kura function) and the number of samples. Blank cells
are threads that were off the CPU: a row with one busy worker and one blank is a serial stretch.
This is how the stall during pack writes was found (docs/benchmarks.md, issue 14).
"""
import argparse, collections, re

STAGES = ["finish", "startUpload", "upload", "addToPack", "saveChunk", "cutPoints", "sealBlob", "seal",
          "save", "directoryTree", "putOnce", "writeDirect", "loadIndex", "flush", "saveSnapshot", "main"]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--bucket-ms", type=float, default=10)
    a = ap.parse_args()
    samples, cur = [], None
    for line in open(a.samples):
        m = re.match(r"\s*(\d+)\s+([\d.]+):\s*$", line)
        if m:
            cur = [int(m.group(1)), float(m.group(2)), []]
            samples.append(cur)
        elif cur is not None:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                cur[2].append(parts[1])
    if not samples:
        raise SystemExit("no samples: record with -g and print with -F tid,time,ip,sym")
    t0 = samples[0][1]

    def stage(stack):
        for frame in stack:
            for key in STAGES:
                if key in frame:
                    return key
        return stack[0][:24] if stack else "?"

    buckets = collections.defaultdict(collections.Counter)
    for tid, t, stack in samples:
        buckets[(int((t - t0) * 1000 / a.bucket_ms), tid)][stage(stack)] += 1
    tids = sorted({k[1] for k in buckets})
    print("bucket  " + " ".join(f"{t:>22}" for t in tids))
    for b in range(max(k[0] for k in buckets) + 1):
        cells = []
        for tid in tids:
            c = buckets.get((b, tid))
            cells.append(f"{c.most_common(1)[0][0][:16]:>16} {sum(c.values()):5d}" if c else " " * 22)
        print(f"{b * a.bucket_ms:6.0f}ms " + " ".join(cells))

if __name__ == "__main__":
    main()
