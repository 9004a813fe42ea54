"""drgn's reading of the locks tasks wait for, as ground truth for vmtriage's lock model.

Usage: locktruth.py DUMP VMLINUX OUT.json

For every task in D or R state, the outermost frame of a known wait site
names the lock (the frame variable); each lock is then read through its own
fields, the way the kernel lays it out (native or PREEMPT_RT): its owner
where the kernel records one, and the tasks in its own wait list or
rt_mutex waiter tree. Written independently of vmtriage's Rust code."""
import json
import sys

import drgn
from drgn import FaultError
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.rbtree import rbtree_inorder_for_each_entry
from drgn.helpers.linux.sched import task_state_to_char

# function -> (variable, kind); kind None: rwbase_rt, an RT rwlock or rwsem
SITES = {
    "mutex_lock": ("lock", "mutex"), "__mutex_lock": ("lock", "mutex"),
    "__mutex_lock_slowpath": ("lock", "mutex"), "__mutex_lock_common": ("lock", "mutex"),
    "down_read": ("sem", "rwsem"), "down_write": ("sem", "rwsem"),
    "rwsem_down_read_slowpath": ("sem", "rwsem"), "rwsem_down_write_slowpath": ("sem", "rwsem"),
    "queued_read_lock_slowpath": ("lock", "rwlock"), "queued_write_lock_slowpath": ("lock", "rwlock"),
    "rt_read_lock": ("rwlock", "rwlock"), "rt_write_lock": ("rwlock", "rwlock"),
    "rt_spin_lock": ("lock", "spinlock"),
    "rwbase_read_lock": ("rwb", None), "__rwbase_read_lock": ("rwb", None), "rwbase_write_lock": ("rwb", None),
    "rt_mutex_slowlock": ("lock", "rt_mutex"), "rtlock_slowlock_locked": ("lock", "rt_mutex"),
}


U64 = (1 << 64) - 1  # atomic_long_t counters are signed


def outermost_wait(prog, task):
    found = None
    try:
        trace = prog.stack_trace(task)
    except Exception:
        return None
    for f in trace:
        site = SITES.get(f.name or "")
        if not site:
            continue
        try:
            v = f[site[0]]
            if v.absent_:
                continue
            found = (int(v.value_()), site[1], f.name)
        except Exception:
            continue
    return found


def rtmutex_waiters(base):
    prog = base.prog_
    wt = prog.type("struct rt_mutex_waiter")
    member = "tree.entry" if wt.has_member("tree") else "tree_entry"
    return [hex(int(w.task)) for w in rbtree_inorder_for_each_entry(wt, base.waiters.rb_root.address_of_(), member)]


def read_lock(prog, addr, kind):
    """(owner or None, waiters, raw) as the lock's own fields say."""
    if kind is None:  # rwbase: an RT rw_semaphore unless entered as an rwlock (then kind says so)
        kind = "rwsem"
    typ = {"mutex": "struct mutex", "rwsem": "struct rw_semaphore", "rwlock": "rwlock_t",
           "spinlock": "spinlock_t", "rt_mutex": "struct rt_mutex_base"}[kind]
    lock = drgn.Object(prog, typ, address=addr)
    t = lock.type_
    if kind == "mutex" and not t.has_member("rtmutex"):
        w = int(lock.owner.counter) & U64
        waiters = [hex(int(x.task)) for x in list_for_each_entry("struct mutex_waiter", lock.wait_list.address_of_(), "list")]
        return (hex(w & ~7) if w & ~7 else None), waiters, w
    if kind == "rwsem" and not t.has_member("rwbase"):
        count = int(lock.count.counter) & U64
        owner = int(lock.owner.counter) & U64
        waiters = [hex(int(x.task)) for x in list_for_each_entry("struct rwsem_waiter", lock.wait_list.address_of_(), "list")]
        return (hex(owner & ~7) if count & 1 and owner & ~7 else None), waiters, count
    if kind == "rwlock" and not t.has_member("rwbase"):
        return None, [], int(lock.raw_lock.cnts.counter)
    if t.has_member("rwbase"):
        base = lock.rwbase.rtmutex
        raw = int(lock.rwbase.readers.counter) & 0xffffffff
    elif t.has_member("rtmutex"):
        base = lock.rtmutex
        raw = int(base.owner)
    elif kind == "spinlock":
        base = lock.lock
        raw = int(base.owner)
    else:
        base = lock
        raw = int(base.owner)
    owner = int(base.owner) & ~1 & U64
    return (hex(owner) if owner else None), rtmutex_waiters(base), raw


def main():
    prog = drgn.Program()
    prog.set_core_dump(sys.argv[1])
    prog.load_debug_info([sys.argv[2]], default=False, main=True)
    waits, locks = {}, {}
    for task in for_each_task(prog):
        try:
            st = task_state_to_char(task)
        except FaultError:
            continue
        # RT lock waits read as R to drgn (TASK_RTLOCK_WAIT); spinners are R.
        if st not in ("D", "R"):
            continue
        w = outermost_wait(prog, task)
        if w:
            waits[hex(task.value_())] = {"lock": hex(w[0]), "function": w[2]}
            locks.setdefault(w[0], w[1])
    out = []
    for addr, kind in sorted(locks.items()):
        try:
            owner, waiters, raw = read_lock(prog, addr, kind)
            out.append({"address": hex(addr), "kind": kind, "owner": owner, "waiters": waiters, "raw": raw})
        except Exception as e:  # an unreadable lock is recorded, not fatal
            out.append({"address": hex(addr), "kind": kind, "error": str(e)})
    with open(sys.argv[3], "w") as f:
        json.dump({"waits": waits, "locks": out}, f, indent=1)


if __name__ == "__main__":
    main()
