#!/usr/bin/env bash
# Benchmark: `vmtriage ps` against the equivalent drgn script on the same dump,
# in the same run: wall time and peak RSS of each, and the ratios.
#   engine/cli/bench/ps-vs-drgn.sh [DUMP VMLINUX]   (default: the 6.1 tasklist-exit-storm ELF dump)
set -euo pipefail
cd "$(dirname "$0")/../../.."
cache=${VMTRIAGE_CORPUS:-$HOME/.cache/vmtriage-corpus}
if [ $# -ge 2 ]; then dump=$1; vmlinux=$2; else
  read -r dump vmlinux < <(python3 -c "
import json; m=json.load(open('$cache/manifest.json'))
e=[e for e in m['dumps'] if e['scenario']=='tasklist-exit-storm' and e['kernel_series']=='6.1' and e['format']=='elf'][0]
print(e['path'], e['vmlinux'])")
fi
cargo build --release -q -p vmtriage
py=$cache/venv/bin/python3
tfile=$(mktemp)
measure() { # cmd... -> "wall_s peak_kib"
  /usr/bin/time -f "%e %M" -o "$tfile" "$@" > /dev/null 2>&1
  tail -1 "$tfile"
}
# Warm the page cache for both (the vmlinux is 590 MB): compare compute, not disk.
cat "$dump" "$vmlinux" > /dev/null
runs=${RUNS:-3}
best() { sort -n | head -1; }
v_wall=(); d_wall=(); v_rss=0; d_rss=0
for i in $(seq "$runs"); do
  read -r w m < <(measure ./target/release/vmtriage ps "$dump" --vmlinux "$vmlinux" --format json); v_wall+=("$w"); v_rss=$m
  read -r w m < <(measure "$py" engine/cli/bench/ps_drgn.py "$dump" "$vmlinux"); d_wall+=("$w"); d_rss=$m
done
vw=$(printf '%s\n' "${v_wall[@]}" | best); dw=$(printf '%s\n' "${d_wall[@]}" | best)
printf 'dump: %s\n' "$dump"
printf '%-10s %8s %10s\n' tool wall_s peak_MiB
printf '%-10s %8s %10d\n' vmtriage "$vw" $((v_rss / 1024)) drgn "$dw" $((d_rss / 1024))
python3 -c "print('ratio wall %.2fx, peak RSS %.2fx (vmtriage / drgn; target <= 0.5)' % ($vw / $dw, $v_rss / $d_rss))"
