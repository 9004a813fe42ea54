#!/usr/bin/env bash
# Scanning a directory of kernel logs (issue #28: >= 500 logs/s on 2 cores):
#  - the logs: each distinct corpus ELF dump's log as `vmtriage dmesg`
#    writes it (one per scenario and series), then N (default 1000) files
#    cycling over them with variations: as written (`[ time]` stamps),
#    without stamps (`dmesg -t`), with syslog prefixes (`Nov 24 10:00:00
#    host kernel: [ time] …`), with RFC 3339 prefixes and no kernel stamp,
#    and cut in the middle (at 60 % of its bytes, mid-line); each file's
#    content its own (a last line naming the copy, or its own cut), so a
#    database scans all N;
#  - `vmtriage scan DIR --jobs J -q`, with no database and with a new
#    SQLite database (`--db`): wall time, logs/s, and the peak RSS of the
#    whole process tree (sampled from /proc every 20 ms) and of the largest
#    single process (GNU time);
#  - a second run on the same database (nothing changed: nothing read).
#
#   engine/cli/bench/scan-logs.sh [N] [J]
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-1000} jobs=${2:-2}
corpus=${VMTRIAGE_CORPUS:-$HOME/.cache/vmtriage-corpus}
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d /tmp/vmtriage-log-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p vmtriage
vmt=$target/release/vmtriage

mapfile -t dumps < <(python3 - "$corpus/manifest.json" <<'PY'
import json, sys
for d in json.load(open(sys.argv[1]))["dumps"]:
    if d["format"] == "elf":
        print(d["path"], d["vmlinux"])
PY
)
[ ${#dumps[@]} -gt 0 ] || { echo "no ELF dumps in the corpus: corpus/build" >&2; exit 2; }
mkdir -p "$work/base" "$work/logs"
i=0
for d in "${dumps[@]}"; do
    "$vmt" dmesg "${d%% *}" --vmlinux "${d#* }" > "$work/base/$(printf %03d $i).txt" 2>/dev/null || rm -f "$work/base/$(printf %03d $i).txt"
    i=$((i + 1))
done
python3 - "$work/base" "$work/logs" "$n" <<'PY'
import os, re, sys
base, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
logs = [open(os.path.join(base, f), "rb").read() for f in sorted(os.listdir(base))]
stamp = re.compile(rb"^\[ *\d+\.\d+\] ?", re.M)
def variant(b, k, i):
    # Each file's content is its own (a database scans copies once): a
    # last line naming the copy, in the file's form, or its own cut.
    lines = b.split(b"\n")
    tag = b"bench copy %d" % i
    if k == 0:
        return b + b"[99999.000000] " + tag + b"\n"
    if k == 1:
        return stamp.sub(b"", b) + tag + b"\n"
    if k == 2:
        return b"".join(b"Nov 24 10:00:00 web-7 kernel: " + l + b"\n" for l in lines + [tag] if l)
    if k == 3:
        return b"".join(b"2026-11-24T10:00:00.123456+00:00 web-7 kernel: " + stamp.sub(b"", l) + b"\n"
                        for l in lines + [tag] if l)
    return b[: len(b) * 6 // 10 + i]
for i in range(n):
    b = logs[i % len(logs)]
    with open(os.path.join(out, "%04d.log" % i), "wb") as f:
        f.write(variant(b, (i // len(logs)) % 5, i))
print("logs: %d files over %d distinct dump logs, %.1f MiB"
      % (n, len(logs), sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)) / 2**20))
PY

now() { date +%s.%N; }
tree_rss_kb() {
    local pids list=$1
    pids=$(pgrep -P "$1" | tr '\n' ',' || true)
    if [ -n "$pids" ]; then list="$1,${pids%,}"; fi
    { ps -o rss= -p "$list" 2>/dev/null || true; } | awk '{s+=$1} END {print s+0}'
}
# run LABEL ARGS…: wall time, logs/s and peak RSS of one scan.
run() {
    local label=$1
    shift
    local t0 pid child peak=0 r t1 rc=0
    t0=$(now)
    /usr/bin/time -f "%M" -o "$work/maxrss" "$vmt" scan "$work/logs" --jobs "$jobs" -q "$@" 2>"$work/err" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        # time's child is vmtriage; its children are the workers.
        child=$(pgrep -P "$pid" | head -1 || true)
        [ -n "$child" ] || { sleep 0.01; continue; }
        r=$(tree_rss_kb "$child")
        if [ "$r" -gt "$peak" ]; then peak=$r; fi
        sleep 0.02
    done
    wait "$pid" || rc=$?
    t1=$(now)
    if [ "$rc" -gt 1 ]; then
        echo "$label: exit $rc" >&2
        cat "$work/err" >&2
        exit 1
    fi
    python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); \
print('%-28s %6.2f s wall  %7.0f logs/s  peak RSS: tree %d MiB, largest process %d MiB' \
% (sys.argv[4], t, n/t, int(sys.argv[5])//1024, int(sys.argv[6])//1024))" \
        "$t0" "$t1" "$n" "$label" "$peak" "$(tail -1 "$work/maxrss")"
    tail -1 "$work/err"
}

echo "scan of $n logs, --jobs $jobs, $(nproc) CPUs, $(date -u +%F)"
run "no database"
run "new SQLite database" --db "$work/results.sqlite"
run "same database, unchanged" --db "$work/results.sqlite"
"$vmt" report --db "$work/results.sqlite" --top 5 | head -40
