#!/usr/bin/env bash
# Benchmark: `vmtriage locks` against a drgn script doing the same work
# (corpus/lib/locktruth.py: find every task's lock wait site, read each
# lock's owner and walk its wait list or rt_mutex tree), same dump, same run:
# wall time and peak RSS of each, and the ratios.
#   engine/cli/bench/locks-vs-drgn.sh [DUMP VMLINUX]
# Default: the largest lock scenario, 6.1 tasklist-exit-storm (ELF).
# SERIES=6.1-rt picks the PREEMPT_RT one (480 waiters in an rt_mutex tree).
set -euo pipefail
cd "$(dirname "$0")/../../.."
cache=${VMTRIAGE_CORPUS:-$HOME/.cache/vmtriage-corpus}
series=${SERIES:-6.1}
if [ $# -ge 2 ]; then dump=$1; vmlinux=$2; else
  read -r dump vmlinux < <(python3 -c "
import json; m=json.load(open('$cache/manifest.json'))
e=[e for e in m['dumps'] if e['scenario']=='tasklist-exit-storm' and e['kernel_series']=='$series' and e['format']=='elf'][0]
print(e['path'], e['vmlinux'])")
fi
cargo build --release -q -p vmtriage
py=$cache/venv/bin/python3
tfile=$(mktemp)
out=$(mktemp)
measure() { # cmd... -> "wall_s peak_kib"
  /usr/bin/time -f "%e %M" -o "$tfile" "$@" > /dev/null 2>&1 || true
  tail -1 "$tfile"
}
cat "$dump" "$vmlinux" > /dev/null
# The index cache on disk, as a second look at a dump would find it.
./target/release/vmtriage locks "$dump" --vmlinux "$vmlinux" > /dev/null 2>&1 || true
runs=${RUNS:-3}
best() { sort -n | head -1; }
v_wall=(); d_wall=(); v_rss=0; d_rss=0
for i in $(seq "$runs"); do
  read -r w m < <(measure ./target/release/vmtriage locks "$dump" --vmlinux "$vmlinux" --format json); v_wall+=("$w"); v_rss=$m
  read -r w m < <(measure "$py" corpus/lib/locktruth.py "$dump" "$vmlinux" "$out"); d_wall+=("$w"); d_rss=$m
done
vw=$(printf '%s\n' "${v_wall[@]}" | best); dw=$(printf '%s\n' "${d_wall[@]}" | best)
printf 'dump: %s\n' "$dump"
printf '%-10s %8s %10s\n' tool wall_s peak_MiB
printf '%-10s %8s %10d\n' vmtriage "$vw" $((v_rss / 1024)) drgn "$dw" $((d_rss / 1024))
python3 -c "print('ratio wall %.2fx, peak RSS %.2fx (vmtriage / drgn; target <= 0.3)' % ($vw / $dw, $v_rss / $d_rss))"
rm -f "$tfile" "$out"
