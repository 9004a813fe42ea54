"""Did a dump reach its scenario's state? Judged on drgn's reading (the ground truth)."""
import re

EXIT_PATH = {"do_exit", "do_group_exit", "exit_notify", "release_task", "get_signal"}
# Where a task waits for each kind of lock: the native slow paths, and
# PREEMPT_RT's (rwlock_t and rw_semaphore on rwbase_rt, mutex on rt_mutex).
RWLOCK_WAIT = {"queued_write_lock_slowpath", "queued_read_lock_slowpath",
               "rwbase_write_lock", "rwbase_read_lock", "__rwbase_read_lock"}
MUTEX_WAIT = {"__mutex_lock", "rt_mutex_slowlock", "rt_mutex_slowlock_block", "__rt_mutex_slowlock_locked"}
RWSEM_WRITE_WAIT = {"rwsem_down_write_slowpath", "rwbase_write_lock"}
RWSEM_READ_WAIT = {"rwsem_down_read_slowpath", "rwbase_read_lock", "__rwbase_read_lock"}


def fns(task):
    return {f["function"] for f in task["stack"] if f["function"]}


def log_has(t, pattern):
    return any(re.search(pattern, r["text"]) for r in t["dmesg"])


def check(name, t, recipe):
    p = []
    tasks = t["tasks"]
    if not tasks:
        return ["no tasks"]
    if recipe["capture"] == "kdump" and t["crashed_pid"] is None:
        p.append("no crashed task in a kdump capture")
    if name == "tasklist-exit-storm":
        parents = [x for x in tasks if x["comm"] == "storm" and "do_wait" in fns(x)]
        if not parents:
            p.append("no storm parent in do_wait")
        else:
            par = parents[0]["pid"]
            kids = {x["pid"] for x in tasks if x["ppid"] == par}
            dying = [x for x in tasks if (x["tgid"] in kids) and (x["exiting"] or x["sigkill_pending"] or fns(x) & EXIT_PATH)]
            if len(dying) < 300:
                p.append(f"only {len(dying)} dying children/threads (want >= 300)")
        slow = [x for x in tasks if fns(x) & RWLOCK_WAIT]
        if len(slow) < 2:
            p.append(f"only {len(slow)} tasks in a tasklist_lock slow path (want >= 2)")
        if not log_has(t, r"soft lockup"):
            p.append("no soft lockup report in the log")
    elif name == "mutex-hung-task":
        blocked = [x for x in tasks if x["state"] == "D" and fns(x) & MUTEX_WAIT]
        if len(blocked) < 3:
            p.append(f"only {len(blocked)} D-state tasks waiting for a mutex")
        if not log_has(t, r"blocked for more than"):
            p.append("no hung-task warning in the log")
    elif name == "mutex-deadlock":
        workers = [x for x in tasks if x["comm"].startswith("vmt_dl_") and x["state"] == "D"
                   and fns(x) & MUTEX_WAIT]
        if len(workers) < 6:
            p.append(f"only {len(workers)} of the 6 deadlock kthreads wait for a mutex")
        if not log_has(t, r"blocked for more than"):
            p.append("no hung-task warning in the log")
    elif name == "mmap-lock-pileup":
        w = [x for x in tasks if fns(x) & RWSEM_WRITE_WAIT]
        r = [x for x in tasks if fns(x) & RWSEM_READ_WAIT]
        if not w or len(r) < 2:
            p.append(f"{len(w)} queued writers and {len(r)} queued readers on an rwsem (want >= 1 and >= 2)")
    elif name == "rwsem-writer-stall":
        holder = [x for x in tasks if x["comm"] == "vmt_rwsem_owner" and x["state"] == "D"]
        w = [x for x in tasks if x["state"] == "D" and fns(x) & RWSEM_WRITE_WAIT]
        r = [x for x in tasks if x["state"] == "D" and fns(x) & RWSEM_READ_WAIT]
        if not holder:
            p.append("the writer holding vmt_rwsem is not in D")
        if not w or len(r) < 4:
            p.append(f"{len(w)} queued writers and {len(r)} queued readers on vmt_rwsem (want >= 1 and >= 4)")
        if not log_has(t, r"blocked for more than"):
            p.append("no hung-task warning in the log")
    elif name == "sysrq-panic":
        if not log_has(t, r"sysrq: Trigger a crash"):
            p.append("no sysrq crash trigger in the log")
    elif name == "null-deref-oops":
        if not log_has(t, r"BUG: kernel NULL pointer dereference"):
            p.append("no NULL-pointer oops in the log")
    elif name == "softlockup-panic":
        if not log_has(t, r"soft lockup"):
            p.append("no soft lockup in the log")
    elif name == "oom-pressure":
        if not log_has(t, r"Out of memory"):
            p.append("no OOM kill in the log")
        zones = t["globals"]["zones"]
        if not any(z["free"] < 2 * z["high"] for z in zones if z["name"] != "DMA"):
            p.append("no zone near its watermarks: " + ", ".join(f"{z['name']} free={z['free']} high={z['high']}" for z in zones))
    elif name == "fork-storm":
        if len(tasks) < 10000:
            p.append(f"only {len(tasks)} tasks (want >= 10000)")
    elif name == "idle":
        if log_has(t, r"Kernel panic|BUG:|Oops"):
            p.append("the idle guest logged a bug or panic")
    return p
