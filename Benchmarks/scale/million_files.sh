#!/usr/bin/env bash
# Scale check from issues 3 and 14: back up N small files (default 1,000,000 in 1,000 folders), then
# back up again without changes. Prints wall, user and system time and peak RSS of both runs, and the
# walk floor measured beside them: `find TREE -printf '%s %T@ %i'` (an lstat of every entry, best of
# three), with the no-change/floor ratio (issue 14's target: at most 2).
#   Benchmarks/scale/million_files.sh [N] [WORKDIR]
set -euo pipefail
N=${1:-1000000}
WORK=${2:-/tmp/kura-million}
KURA=${KURA:-$(cd "$(dirname "$0")/../.." && pwd)/.build/release/kura}
export KURA_PASSWORD=${KURA_PASSWORD:-million-files-benchmark}
export KURA_CACHE_DIR="$WORK/cache"
mkdir -p "$WORK"
if [ ! -f "$WORK/tree.done.$N" ]; then
  rm -rf "$WORK/tree"
  python3 - "$WORK/tree" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for d in range((n + per - 1) // per):
    dd = os.path.join(root, f"d{d:04d}")
    os.makedirs(dd, exist_ok=True)
    for f in range(min(per, n - d * per)):
        with open(os.path.join(dd, f"f{f:04d}.txt"), "w") as fh:
            fh.write(f"file {d}/{f}: " + "kura " * (f % 40) + "\n")
PY
  touch "$WORK/tree.done.$N"
fi
rm -rf "$WORK/repo" "$WORK/cache"
"$KURA" init -q -r "$WORK/repo"
measure() { /usr/bin/time -f "%e %M %U %S" "$KURA" backup -q -r "$WORK/repo" "$WORK/tree" 2>&1 | tail -1; }
walk() { /usr/bin/time -f "%e %M %U %S" find "$WORK/tree" -printf '%s %T@ %i\n' 2>&1 >/dev/null | tail -1; }
read -r t1 m1 u1 s1 < <(measure)
read -r t2 m2 u2 s2 < <(measure)
tf=""
for _ in 1 2 3; do
  read -r t _ uf sf < <(walk)
  if [ -z "$tf" ] || python3 -c "import sys; sys.exit(0 if float('$t') < float('$tf') else 1)"; then tf=$t; fu=$uf; fs=$sf; fi
done
echo "files: $N   (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "first backup:     ${t1} s (user ${u1} s, sys ${s1} s), peak RSS $((m1 / 1024)) MB"
echo "no-change backup: ${t2} s (user ${u2} s, sys ${s2} s), peak RSS $((m2 / 1024)) MB"
echo "walk floor:       ${tf} s (user ${fu} s, sys ${fs} s)  find TREE -printf '%s %T@ %i', best of 3"
python3 -c "print(f'ratio no-change/first: {float($t2)/float($t1):.3f}'); print(f'ratio no-change/walk floor: {float($t2)/float($tf):.2f} (target <= 2)')"
