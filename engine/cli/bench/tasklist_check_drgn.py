"""The founding-case check (LOCK-0001's core) with drgn, for the bulk
benchmark: open the dump and its vmlinux, find the tasks sleeping in do_wait
with at least MIN_DYING dying children (or child threads), read
tasklist_lock. Prints one JSON line per dump.

    python3 tasklist_check_drgn.py DUMP VMLINUX [MIN_DYING]
"""
import json
import sys

import drgn
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.pid import for_each_task

PF_EXITING = 0x4
SIGKILL = 9

dump, vmlinux = sys.argv[1], sys.argv[2]
min_dying = int(sys.argv[3]) if len(sys.argv) > 3 else 100
prog = drgn.Program()
prog.set_core_dump(dump)
prog.load_debug_info([vmlinux], default=False, main=True)


def in_do_wait(t):
    try:
        return any(f.name == "do_wait" for f in prog.stack_trace(t))
    except Exception:
        return False


def dying(t):
    if t.flags & PF_EXITING or t.exit_state:
        return True
    sig = t.pending.signal.sig[0]
    return bool(sig & (1 << (SIGKILL - 1)))


def threads(t):
    return list_for_each_entry(
        "struct task_struct", t.signal.thread_head.address_of_(), "thread_node"
    ) if prog.type("struct signal_struct").has_member("thread_head") else list_for_each_entry(
        "struct task_struct", t.thread_group.address_of_(), "thread_group"
    )


hits = []
for t in for_each_task(prog):
    children = list(list_for_each_entry("struct task_struct", t.children.address_of_(), "sibling"))
    if not children or not in_do_wait(t):
        continue
    n = 0
    for c in children:
        try:
            n += sum(1 for th in threads(c) if dying(th))
        except drgn.FaultError:
            n += 1 if dying(c) else 0
    if n >= min_dying:
        hits.append({"pid": int(t.pid), "comm": t.comm.string_().decode(), "dying": n})
lock = prog["tasklist_lock"].raw_lock.cnts.counter.value_()
print(json.dumps({"dump": dump, "hits": hits, "tasklist_lock_cnts": lock}))
