#!/usr/bin/env bash
# Scale check from issue 3: back up N small files (default 1,000,000 in 1,000 folders), then back up
# again without changes. Prints wall time and peak RSS of both runs and the ratio.
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
measure() { /usr/bin/time -f "%e %M" "$KURA" backup -q -r "$WORK/repo" "$WORK/tree" 2>&1 | tail -1; }
read -r t1 m1 < <(measure)
read -r t2 m2 < <(measure)
echo "files: $N"
echo "first backup:     ${t1} s, peak RSS $((m1 / 1024)) MB"
echo "no-change backup: ${t2} s, peak RSS $((m2 / 1024)) MB"
python3 -c "print(f'ratio no-change/first: {float($t2)/float($t1):.3f}')"
