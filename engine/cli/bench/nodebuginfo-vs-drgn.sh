#!/usr/bin/env bash
# Benchmark for reading a dump with nothing but the dump: in one run, on the
# same dump, wall time and peak RSS of
#   - vmtriage --debuginfo none, cold (an empty cache: kallsyms, BTF and ORC
#     read from the dump) and warm (the memory image cached per build-id);
#   - vmtriage with the debug vmlinux, cold (an empty DWARF index cache) and warm;
#   - drgn with the debug vmlinux (the same work: every task, every stack);
#   - drgn without it: kallsyms from the dump (drgn has no types without
#     DWARF, so it lists no task and unwinds no stack: its time is the
#     symbol load alone).
# The work: `info` (title: the log, the task list, stacks of tasks in D/R),
# `ps` and `bt --all`, three processes, timed together; then `scan` (the
# whole rule pack) alone, cold and warm, without and with the debug vmlinux.
# drgn has no rule engine: its rows are the first work (every task, every
# stack), what a drgn script would do before any rule's logic.
#
#   engine/cli/bench/nodebuginfo-vs-drgn.sh [DUMP VMLINUX]
#   (default: the 6.1 tasklist-exit-storm ELF dump and its vmlinux)
set -euo pipefail
cd "$(dirname "$0")/../../.."
corpus=${VMTRIAGE_CORPUS:-$HOME/.cache/vmtriage-corpus}
py=${DRGN_PYTHON:-$corpus/venv/bin/python3}
if [ $# -ge 2 ]; then dump=$1; vmlinux=$2; else
  read -r dump vmlinux < <(python3 -c "
import json; m=json.load(open('$corpus/manifest.json'))
e=[e for e in m['dumps'] if e['scenario']=='tasklist-exit-storm' and e['kernel_series']=='6.1' and e['format']=='elf'][0]
print(e['path'], e['vmlinux'])")
fi
cargo build --release -q -p vmtriage
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat > "$out/drgn_all.py" <<'PY'
import sys
import drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_state_to_char
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
if len(sys.argv) > 2:
    prog.load_debug_info([sys.argv[2]], default=False, main=True)
    n = frames = 0
    for t in for_each_task(prog):
        print(int(t.pid), t.comm.string_().decode(), task_state_to_char(t))
        try:
            frames += len(prog.stack_trace(t))
        except Exception:
            pass
        n += 1
    print(n, "tasks", frames, "frames", file=sys.stderr)
else:
    from drgn.helpers.linux.kallsyms import load_vmlinux_kallsyms
    prog.register_symbol_finder("kallsyms", load_vmlinux_kallsyms(prog), enable_index=0)
    print(prog.symbol("schedule"), file=sys.stderr)
    try:
        prog["init_task"]
    except Exception as e:
        print("no types without DWARF:", e, file=sys.stderr)
PY
v=target/release/vmtriage
ours() { # extra vmtriage args... : the three commands
  "$v" info "$dump" "$@" --format json
  "$v" ps "$dump" "$@" --format json
  "$v" bt --all "$dump" "$@" --format json
}
export -f ours
export v dump
measure() { # label, command... -> "label wall_s peak_MiB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/t" bash -c "$*" > /dev/null 2> "$out/err" || true
  read -r w m < <(tail -1 "$out/t")
  printf '%-38s %8.2f %10.1f\n' "$label" "$w" "$(echo "$m / 1024" | bc -l)"
}
cat "$dump" "$vmlinux" > /dev/null # the page cache: compare compute, not disk
printf 'dump: %s\n%-38s %8s %10s\n' "$dump" run wall_s peak_MiB
cold=$out/cache
measure "vmtriage --debuginfo none, cold" "VMTRIAGE_INDEX_CACHE=$cold.1 ours --debuginfo none"
measure "vmtriage --debuginfo none, warm" "VMTRIAGE_INDEX_CACHE=$cold.1 ours --debuginfo none"
measure "vmtriage --vmlinux, cold" "VMTRIAGE_INDEX_CACHE=$cold.2 ours --vmlinux $vmlinux"
measure "vmtriage --vmlinux, warm" "VMTRIAGE_INDEX_CACHE=$cold.2 ours --vmlinux $vmlinux"
measure "vmtriage scan --debuginfo none, cold" "VMTRIAGE_INDEX_CACHE=$cold.3 $v scan $dump --debuginfo none --format json"
measure "vmtriage scan --debuginfo none, warm" "VMTRIAGE_INDEX_CACHE=$cold.3 $v scan $dump --debuginfo none --format json"
measure "vmtriage scan --vmlinux, cold" "VMTRIAGE_INDEX_CACHE=$cold.4 $v scan $dump --vmlinux $vmlinux --format json"
measure "vmtriage scan --vmlinux, warm" "VMTRIAGE_INDEX_CACHE=$cold.4 $v scan $dump --vmlinux $vmlinux --format json"
measure "drgn with the vmlinux" "$py $out/drgn_all.py $dump $vmlinux"
measure "drgn without (kallsyms only)" "$py $out/drgn_all.py $dump"
grep -h "no types" "$out/err" || true
