#!/usr/bin/env bash
# Wall time and peak RSS of every task's kernel stack as JSON: vmtriage
# (`bt --all --format json`, release build) against drgn on the same dump,
# in the same run. Uses the largest dump of the corpus manifest, or DUMP and
# VMLINUX given as arguments.
#
#   engine/unwind/bench/bt-vs-drgn.sh [DUMP VMLINUX]
set -euo pipefail
cd "$(dirname "$0")/../../.."
corpus=${VMTRIAGE_CORPUS:-$HOME/.cache/vmtriage-corpus}
py=${DRGN_PYTHON:-$corpus/venv/bin/python3}
if [ $# -ge 2 ]; then
    dump=$1 vmlinux=$2
else
    read -r dump vmlinux < <(python3 - "$corpus/manifest.json" <<'PY'
import json, sys
d = max(json.load(open(sys.argv[1]))["dumps"], key=lambda e: e["size"])
print(d["path"], d["vmlinux"])
PY
)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo build --release -q -p vmtriage -p kunwind --example bt
if target/release/vmtriage bt --help >/dev/null 2>&1; then
    ours=(target/release/vmtriage bt --all --format json --vmlinux "$vmlinux" "$dump")
else
    # The subcommand is not wired yet: the example prints the same JSON.
    ours=(target/release/examples/bt "$dump" "$vmlinux")
fi

cat > "$out/drgn_bt.py" <<'PY'
import json, sys
import drgn
from drgn.helpers.linux.pid import for_each_task
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]], default=False, main=True)
rows = []
for t in for_each_task(prog):
    frames, err = [], None
    try:
        for f in prog.stack_trace(t):
            try:
                file, line, _ = f.source()
            except Exception:
                file = line = None
            frames.append({"function": f.name, "pc": hex(f.pc), "sp": hex(f.sp),
                           "inline": bool(f.is_inline), "file": file, "line": line})
    except Exception as e:
        err = f"{type(e).__name__}: {e}"
    rows.append({"pid": int(t.pid), "frames": frames, "error": err})
json.dump(rows, sys.stdout)
PY

# Warm the page cache so that neither side pays for the first read.
cat "$dump" "$vmlinux" > /dev/null

measure() { # name, command...
    local name=$1; shift
    /usr/bin/time -v "$@" > "$out/$name.json" 2> "$out/$name.time"
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/$name.time")
    # h:mm:ss or m:ss.cc → seconds
    wall=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    echo "$name $wall $rss"
}

echo "dump: $dump"
r1=$(measure vmtriage "${ours[@]}")
r2=$(measure drgn "$py" "$out/drgn_bt.py" "$dump" "$vmlinux")
python3 - "$out" "$r1" "$r2" <<'PY'
import json, sys
out, a, b = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
ours, theirs = json.load(open(f"{out}/vmtriage.json")), json.load(open(f"{out}/drgn.json"))
nf = lambda rows: sum(len(r["frames"]) for r in rows)
for name, wall, rss, rows in ((a[0], a[1], a[2], ours), (b[0], b[1], b[2], theirs)):
    print(f"{name:9} wall {float(wall):7.2f} s   peak RSS {int(rss) / 1024:8.1f} MiB   {len(rows)} tasks, {nf(rows)} frames")
print(f"ratio     wall {float(a[1]) / float(b[1]):.2f}x   RSS {int(a[2]) / int(b[2]):.2f}x   (vmtriage / drgn)")
PY
