"""Ground truth for one dump, read by drgn (an independent reader). Run in the corpus venv:

    truth.py DUMP VMLINUX OUT.json

Every task, its stack (inline frames marked), the log, selected globals. A task
drgn cannot unwind is recorded with its error; the script goes on."""
import json
import sys
import time

import drgn
from drgn import FaultError
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_printk_records
from drgn.helpers.linux.sched import cpu_curr, task_cpu, task_state_to_char

PF_EXITING = 0x4
PF_KTHREAD = 0x00200000
SIGKILL = 9
# Functions whose frame names the lock a task waits on, and the variable holding it.
LOCK_FRAMES = {
    "__mutex_lock": "lock", "__mutex_lock_slowpath": "lock", "mutex_lock": "lock",
    "rwsem_down_read_slowpath": "sem", "rwsem_down_write_slowpath": "sem",
    "queued_read_lock_slowpath": "lock", "queued_write_lock_slowpath": "lock",
    "rt_mutex_slowlock": "lock", "rwbase_read_lock": "rwb", "rwbase_write_lock": "rwb",
    # PREEMPT_RT's other wait sites
    "__rwbase_read_lock": "rwb", "rtlock_slowlock_locked": "lock", "rt_mutex_slowlock_block": "lock",
    "__mutex_lock_common": "lock",
}


TASK_RTLOCK_WAIT = 0x1000  # include/linux/sched.h, since 5.15


def proc_state(task):
    """The letter /proc shows: drgn's, except that a PREEMPT_RT lock wait
    (TASK_RTLOCK_WAIT) is reported as D, as the kernel's __task_state_index() does."""
    c = task_state_to_char(task)
    if c == "R" and task.prog_.type("struct task_struct").has_member("__state"):
        if int(task.__state) & TASK_RTLOCK_WAIT and "task_state_array" in task.prog_:
            letters = [s.string_().decode()[0] for s in task.prog_["task_state_array"]]
            if "I" in letters:  # the kernels that have TASK_RTLOCK_WAIT
                return "D"
    return c


def sig_pending(task, sig):
    bit = 1 << (sig - 1)
    try:
        own = int(task.pending.signal.sig[0])
        shared = int(task.signal.shared_pending.signal.sig[0])
    except FaultError:
        return None
    return bool((own | shared) & bit)


def stack_of(prog, task):
    frames = []
    try:
        trace = prog.stack_trace(task)
    except Exception as e:  # drgn raises several kinds; record and go on
        return frames, f"{type(e).__name__}: {e}"
    for f in trace:
        fr = {"function": f.name, "inline": bool(f.is_inline), "pc": hex(f.pc) if not f.is_inline or True else None}
        try:
            fr["sp"] = hex(f.sp)
        except Exception:
            fr["sp"] = None
        var = LOCK_FRAMES.get(f.name or "")
        if var is not None:
            try:
                v = f[var]
                fr["lock_var"] = {"name": var, "address": None if v.absent_ else hex(v.value_())}
            except Exception as e:
                fr["lock_var"] = {"name": var, "address": None, "error": str(e)}
        frames.append(fr)
    return frames, None


def main():
    dump, vmlinux, out = sys.argv[1:4]
    t0 = time.time()
    prog = drgn.Program()
    prog.set_core_dump(dump)
    prog.load_debug_info([vmlinux], default=False, main=True)
    release = prog["init_uts_ns"].name.release.string_().decode()

    try:
        crashed = prog.crashed_thread()
        crashed_pid = crashed.tid
        crashed_cpu = int(task_cpu(crashed.object)) if crashed.object else None
    except Exception:
        crashed_pid = crashed_cpu = None

    tasks = []
    for t in for_each_task(prog):
        pid = int(t.pid)
        try:
            ppid = int(t.real_parent.tgid)
        except FaultError:
            ppid = None
        flags = int(t.flags)
        frames, err = stack_of(prog, t)
        tasks.append({
            "pid": pid, "tgid": int(t.tgid), "ppid": ppid,
            "comm": t.comm.string_().decode(errors="replace"),
            "state": proc_state(t), "cpu": int(task_cpu(t)),
            "kthread": bool(flags & PF_KTHREAD), "exiting": bool(flags & PF_EXITING),
            "sigkill_pending": sig_pending(t, SIGKILL),
            "address": hex(t.value_()),
            "stack": frames, "stack_error": err,
        })

    cpus = []
    for cpu in for_each_online_cpu(prog):
        cpus.append({"cpu": cpu, "current_pid": int(cpu_curr(prog, cpu).pid)})

    records = [{"level": r.level, "timestamp_ns": r.timestamp,
                "text": r.text.decode(errors="replace")} for r in get_printk_records(prog)]

    g = {}
    lock = prog["tasklist_lock"]
    if lock.type_.has_member("rwbase"):
        # PREEMPT_RT: rwlock_t is an rwbase_rt (reader count with READER_BIAS, and an rtmutex).
        g["tasklist_lock"] = {"address": hex(lock.address_), "rt": True,
                              "readers": int(lock.rwbase.readers.counter) & 0xffffffff,
                              "owner": hex(int(lock.rwbase.rtmutex.owner))}
    else:
        g["tasklist_lock"] = {"address": hex(lock.address_), "cnts": int(lock.raw_lock.cnts.counter),
                              "wait_lock": int(lock.raw_lock.wait_lock.val.counter)}
    g["nr_threads"] = int(prog["nr_threads"])
    g["jiffies"] = int(prog["jiffies_64"])
    tk = prog["tk_core"].timekeeper
    g["uptime_ns"] = int(tk.tkr_mono.base) + int(tk.offs_boot)
    g["totalram_pages"] = int(prog["_totalram_pages"].counter)
    nr_free = prog.constant("NR_FREE_PAGES") if hasattr(prog, "constant") else prog["NR_FREE_PAGES"]
    g["free_pages"] = int(prog["vm_zone_stat"][nr_free].counter)
    zones = []
    nr_nodes = 1
    for nid in range(nr_nodes):
        pgdat = prog["node_data"][nid] if "node_data" in dir(prog) or True else None
        try:
            pgdat = prog["node_data"][nid]
        except KeyError:
            pgdat = prog["contig_page_data"].address_of_()
        for z in pgdat.node_zones:
            if int(z.present_pages) == 0:
                continue
            wm = z._watermark
            zones.append({"node": nid, "name": z.name.string_().decode(),
                          "free": int(z.vm_stat[nr_free].counter),
                          "min": int(wm[0]), "low": int(wm[1]), "high": int(wm[2]),
                          "present": int(z.present_pages)})
    g["zones"] = zones
    mods = []
    for m in drgn.helpers.linux.module.for_each_module(prog) if hasattr(drgn.helpers.linux, "module") else []:
        mods.append(m.name.string_().decode())
    g["modules"] = mods
    g["tainted_mask"] = int(prog["tainted_mask"])

    json.dump({
        "reader": f"drgn {drgn.__version__}", "seconds": round(time.time() - t0, 2),
        "release": release, "crashed_pid": crashed_pid, "crashed_cpu": crashed_cpu,
        "tasks": tasks, "cpus": cpus, "dmesg": records, "globals": g,
    }, open(out, "w"), indent=None)


if __name__ == "__main__":
    main()
