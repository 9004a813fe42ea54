#!/usr/bin/env bash
# Bulk scanning against drgn, same run, same machine:
#  - an archive of N (default 50) dumps of one kernel build: symlinks cycling
#    over the corpus's 6.1 ELF dumps (drgn's libkdumpfile does not open the
#    QEMU-written kdump files; symlinks to the same files are distinct dumps
#    for both sides: no database, so vmtriage does not deduplicate them);
#  - vmtriage: `scan ARCHIVE --jobs J -q` with the full rule pack (worker
#    processes, one debug-info index per worker and build), starting from an
#    empty index cache;
#  - drgn: tasklist_check_drgn.py (the founding-case check only), one process
#    per dump, J at a time (xargs -P);
#  - each distinct dump alone: vmtriage cold (empty index cache), vmtriage
#    with the build's index cached on disk, drgn (means and the worst case);
#  - the marginal cost of a dump once its build's index is in memory:
#    (T(N dumps) - T(1 dump)) / (N - 1) with --jobs 1;
#  - peak RSS of the whole vmtriage process tree with --jobs J (sampled
#    from /proc every 50 ms) and of the largest single process (GNU time).
#
#   engine/cli/bench/bulk-vs-drgn.sh [N] [J]
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-50} jobs=${2:-2}
corpus=${VMTRIAGE_CORPUS:-$HOME/.cache/vmtriage-corpus}
py=${DRGN_PYTHON:-$corpus/venv/bin/python3}
drgn_check=engine/cli/bench/tasklist_check_drgn.py
work=$(mktemp -d /tmp/vmtriage-bulk-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

mapfile -t dumps < <(python3 - "$corpus/manifest.json" <<'PY'
import json, sys
for d in json.load(open(sys.argv[1]))["dumps"]:
    if d["kernel_series"] == "6.1" and d["format"] == "elf":
        print(d["path"], d["vmlinux"])
PY
)
[ ${#dumps[@]} -gt 0 ] || { echo "no 6.1 ELF dumps in the corpus: corpus/build" >&2; exit 2; }
vmlinux=${dumps[0]#* }
mkdir -p "$work/archive"
for i in $(seq 0 $((n - 1))); do
    d=${dumps[$((i % ${#dumps[@]}))]%% *}
    ln -s "$d" "$work/archive/$(printf %03d "$i")-$(basename "$d")"
done
distinct=$(printf '%s\n' "${dumps[@]}" | wc -l)

cargo build --release -q -p vmtriage --example bulk
if target/release/vmtriage scan --help 2>/dev/null | grep -q -- '--db'; then
    vmt=target/release/vmtriage
else
    vmt=target/release/examples/bulk # main.rs not wired yet: the same code
fi

# Warm the page cache so that neither side pays for the first read.
for d in "${dumps[@]}"; do cat "${d%% *}" > /dev/null; done
cat "$vmlinux" > /dev/null

now() { date +%s.%N; }
tree_rss_kb() { # the summed RSS of a process and its children
    local pids
    pids=$(pgrep -P "$1" | tr '\n' ',' || true)
    local list=$1
    if [ -n "$pids" ]; then list="$1,${pids%,}"; fi
    # The processes may exit between pgrep and ps: not an error.
    { ps -o rss= -p "$list" 2>/dev/null || true; } | awk '{s+=$1} END {print s+0}'
}

echo "archive: $n dumps (symlinks over $distinct distinct 6.1 ELF dumps), --jobs $jobs, $(nproc) CPUs"

# vmtriage, whole archive, with a process-tree RSS sampler.
t0=$(now)
# An empty index cache: each worker builds the build's index once.
mkdir -p "$work/index-bulk"
VMTRIAGE_INDEX_CACHE="$work/index-bulk" /usr/bin/time -f "%M" -o "$work/vmt.maxrss" "$vmt" scan "$work/archive" --debuginfo-dir "$corpus/kernels" --jobs "$jobs" -q 2>"$work/vmt.err" &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
    child=$(pgrep -P "$pid" | head -1 || true)
    if [ -n "$child" ]; then
        r=$(tree_rss_kb "$child")
        if [ "$r" -gt "$peak" ]; then peak=$r; fi
    fi
    sleep 0.05
done
wait "$pid" || true
t1=$(now)
vmt_all=$(echo "$t1 - $t0" | bc -l)
tail -1 "$work/vmt.err"

# drgn, one process per dump, $jobs at a time.
t0=$(now)
ls "$work"/archive/* | xargs -P "$jobs" -I{} "$py" "$drgn_check" {} "$vmlinux" > "$work/drgn.out"
t1=$(now)
drgn_all=$(echo "$t1 - $t0" | bc -l)

# Single dumps, each distinct dump once, both sides: vmtriage cold (an
# empty index cache: it builds the build's name index and writes it), then
# with the index cached on disk (a new process: what every later scan of
# that build pays); drgn has no cache to warm.
sum() { printf '%s\n' "$@" | awk '{s+=$1} END {printf "%.3f", s}'; }
cold=() cached=() drgn=() worst=0 worst_name=
for d in "${dumps[@]}"; do
    f=${d%% *}
    rm -rf "$work/index" && mkdir "$work/index"
    t0=$(now); VMTRIAGE_INDEX_CACHE="$work/index" "$vmt" scan "$f" --debuginfo-dir "$corpus/kernels" -q >/dev/null 2>&1 || true; t1=$(now)
    c=$(echo "$t1 - $t0" | bc -l)
    t0=$(now); VMTRIAGE_INDEX_CACHE="$work/index" "$vmt" scan "$f" --debuginfo-dir "$corpus/kernels" -q >/dev/null 2>&1 || true; t1=$(now)
    w=$(echo "$t1 - $t0" | bc -l)
    t0=$(now); "$py" "$drgn_check" "$f" "$vmlinux" > /dev/null; t1=$(now)
    g=$(echo "$t1 - $t0" | bc -l)
    cold+=("$c") cached+=("$w") drgn+=("$g")
    printf '  %-40s cold %.3f s, index cached %.3f s, drgn %.3f s\n' "$(basename "$f")" "$c" "$w" "$g"
    if [ "$(echo "$c / $g > $worst" | bc -l)" = 1 ]; then worst=$(echo "$c / $g" | bc -l) worst_name=$(basename "$f"); fi
done
m=${#dumps[@]}
vmt_cold=$(echo "$(sum "${cold[@]}") / $m" | bc -l)
vmt_cached=$(echo "$(sum "${cached[@]}") / $m" | bc -l)
drgn_one=$(echo "$(sum "${drgn[@]}") / $m" | bc -l)
one=$(ls "$work"/archive/* | head -1)

# Marginal cost per dump with the build's index in memory (one worker).
t0=$(now); "$vmt" scan "$work/archive" --debuginfo-dir "$corpus/kernels" --jobs 1 --isolate process -q 2>/dev/null || true; t1=$(now)
vmt_serial=$(echo "$t1 - $t0" | bc -l)
t0=$(now); "$vmt" scan "$one" --debuginfo-dir "$corpus/kernels" --jobs 1 --isolate process -q 2>/dev/null || true; t1=$(now)
vmt_serial_one=$(echo "$t1 - $t0" | bc -l)
marginal=$(echo "($vmt_serial - $vmt_serial_one) / ($n - 1)" | bc -l)

printf '\n%-58s %10s %10s %8s\n' "" vmtriage drgn ratio
printf '%-58s %10.2f %10.2f %8.2f\n' "dumps per second, $n dumps, --jobs $jobs (higher is better)" \
    "$(echo "$n / $vmt_all" | bc -l)" "$(echo "$n / $drgn_all" | bc -l)" "$(echo "$drgn_all / $vmt_all" | bc -l)"
printf '%-58s %10.3f %10.3f %8.2f\n' "single dump, cold (no index cache), mean of $m, seconds" "$vmt_cold" "$drgn_one" "$(echo "$vmt_cold / $drgn_one" | bc -l)"
printf '%-58s %10s %10s %8.2f\n' "  worst ratio ($worst_name)" "" "" "$worst"
printf '%-58s %10.3f %10.3f %8.2f\n' "single dump, index cached on disk, mean of $m, seconds" "$vmt_cached" "$drgn_one" "$(echo "$vmt_cached / $drgn_one" | bc -l)"
printf '%-58s %10.3f %10.3f %8.2f\n' "a dump with its build's index in memory, seconds" "$marginal" "$drgn_one" "$(echo "$marginal / $drgn_one" | bc -l)"
printf '%-58s %10d\n' "peak RSS, process tree, --jobs $jobs, MiB" "$((peak / 1024))"
printf '%-58s %10d\n' "peak RSS, largest single process, MiB" "$(( $(tail -1 "$work/vmt.maxrss") / 1024 ))"
