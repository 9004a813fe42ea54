#!/usr/bin/env bash
# Scan time per dump, this build against another (an older commit's binary),
# in the same run: one ELF dump per scenario and kernel series of the corpus
# (optionally only the scenarios named), each scanned REPS times by each
# binary in turn, the debug-info index warm. Prints the median wall time of
# each and the ratio new/old per dump, and the ratio of the sums.
#
#   engine/cli/bench/scan-before-after.sh OLD_VMTRIAGE [REPS] [SCENARIO...]
#
# Build the old binary in a worktree, e.g.:
#   git worktree add /tmp/old COMMIT && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release -p vmtriage)
set -euo pipefail
cd "$(dirname "$0")/../../.."
old=${1:?usage: scan-before-after.sh OLD_VMTRIAGE [REPS] [SCENARIO...]}
reps=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
new=target/release/vmtriage
cargo build --release -q -p vmtriage
corpus=${VMTRIAGE_CORPUS:-$HOME/.cache/vmtriage-corpus}
python3 - "$corpus/manifest.json" "$old" "$new" "$reps" "$@" <<'PY'
import json, statistics, subprocess, sys, time
man, old, new, reps, only = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), set(sys.argv[5:])
seen, dumps = set(), []
for e in json.load(open(man))["dumps"]:
    key = (e["scenario"], e["kernel_series"])
    if e["format"] != "elf" or key in seen or (only and e["scenario"] not in only):
        continue
    seen.add(key)
    dumps.append(e)
def run(binary, e):
    t0 = time.monotonic()
    subprocess.run([binary, "scan", "--vmlinux", e["vmlinux"], e["path"]],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0
tot_old = tot_new = 0.0
print(f"{'dump':32} {'old s':>7} {'new s':>7} {'new/old':>8}")
for e in dumps:
    run(old, e); run(new, e)  # warm the index cache and the page cache
    to, tn = [], []
    for _ in range(reps):
        to.append(run(old, e)); tn.append(run(new, e))
    mo, mn = statistics.median(to), statistics.median(tn)
    tot_old += mo; tot_new += mn
    print(f"{e['scenario'] + ' ' + e['kernel_series']:32} {mo:7.2f} {mn:7.2f} {mn / mo:8.2f}")
print(f"{'all':32} {tot_old:7.2f} {tot_new:7.2f} {tot_new / tot_old:8.2f}")
PY
