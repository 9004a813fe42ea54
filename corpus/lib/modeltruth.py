"""drgn's reading of the kernel model's subsystems, as ground truth for vmtriage's.

Usage: modeltruth.py DUMP VMLINUX OUT.json

One section per subsystem of the model, each read with drgn's own helpers
where it has them: `sched` (each online CPU's runqueue, each task's time
since it last got a CPU, the load averages), `mm` (each populated zone's
free blocks by order, the global VM counters by name, the slab caches with
their slabs and objects), `rcu` (the grace-period state, the CPUs and
preempted readers it waits for), `workqueue` (every worker pool with its
busy workers, pending work and time since its last progress), `memcg` (every
memory cgroup with its path, charge, limit and OOM events), `files` (every
process's open files: descriptor, path, filesystem type, file_operations
symbol). A section that drgn cannot read is
recorded with its error, not fatal. Written independently of vmtriage's
Rust code."""
import json
import sys

import drgn
from drgn.helpers.linux.cgroup import cgroup_path, css_for_each_descendant_pre
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.fs import d_path, for_each_file
from drgn.helpers.linux.idr import idr_for_each
from drgn.helpers.linux.list import hlist_for_each_entry, list_for_each_entry
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.mmzone import for_each_online_pgdat
from drgn.helpers.linux.sched import cpu_rq, loadavg, task_since_last_arrival_ns
from drgn.helpers.linux.slab import for_each_slab_cache, slab_cache_usage
from drgn.helpers.linux.vmstat import global_node_page_state, global_zone_page_state


def sched(prog):
    rqs = []
    for cpu in for_each_online_cpu(prog):
        rq = cpu_rq(prog, cpu)
        try:
            throttled = bool(rq.rt.rt_throttled)
        except (AttributeError, LookupError):
            throttled = None
        rqs.append({"cpu": cpu, "curr": hex(rq.curr.value_()), "idle": hex(rq.idle.value_()),
                    "nr_running": int(rq.nr_running), "clock": int(rq.clock),
                    "rt_throttled": throttled})
    since = {}
    for task in for_each_task(prog):
        try:
            since[hex(task.value_())] = int(task_since_last_arrival_ns(task))
        except (drgn.FaultError, AttributeError, LookupError):
            continue
    return {"runqueues": rqs, "since_last_arrival_ns": since, "loadavg": list(loadavg(prog))}


def mm(prog):
    zones = []
    for pgdat in for_each_online_pgdat(prog):
        for z in pgdat.node_zones:
            if not z.present_pages:
                continue
            zones.append({"node": int(pgdat.node_id), "name": z.name.string_().decode(),
                          "free_blocks": [int(a.nr_free) for a in z.free_area]})
    stats = {}
    for enum, read in (("enum zone_stat_item", global_zone_page_state),
                       ("enum node_stat_item", global_node_page_state)):
        for name, value in prog.type(enum).enumerators:
            if name.startswith("NR_VM_") and name.endswith("_ITEMS"):
                continue
            stats[name] = int(read(prog[name]))
    caches = []
    for c in for_each_slab_cache(prog):
        try:
            u = slab_cache_usage(c)
            slabs, objs = int(u.num_slabs), int(u.num_objs)
        except ValueError:  # no CONFIG_SLUB_DEBUG counters
            slabs = objs = None
        caches.append({"address": hex(c.value_()), "name": c.name.string_().decode(),
                       "object_size": int(c.object_size), "size": int(c.size),
                       "num_slabs": slabs, "num_objs": objs})
    return {"zones": zones, "vm_stats": stats, "slab_caches": caches}


def rcu(prog):
    rs = prog["rcu_state"]
    jiffies = int(prog["jiffies_64"])
    seq = int(rs.gp_seq)
    running = seq & 3 != 0
    cpus, tasks = [], []
    if running:
        leaf = int(prog["rcu_num_lvls"]) - 1
        for i in range(int(prog["rcu_num_nodes"])):
            node = rs.node[i]
            if int(node.level) != leaf:
                continue
            mask, lo = int(node.qsmask), int(node.grplo)
            cpus += [lo + b for b in range(64) if mask >> b & 1]
            gp_tasks = int(node.gp_tasks)
            if gp_tasks:
                entries = list(list_for_each_entry("struct task_struct", node.blkd_tasks.address_of_(),
                                                   "rcu_node_entry"))
                addrs = [int(t.rcu_node_entry.address_of_()) for t in entries]
                tasks += [hex(t.value_()) for t in entries[addrs.index(gp_tasks):]]
    try:
        state_name = prog["gp_state_names"][int(rs.gp_state)].string_().decode()
    except (KeyError, LookupError, drgn.FaultError):
        state_name = None
    return {"flavour": rs.name.string_().decode(), "gp_seq": seq, "gp_in_progress": running,
            "gp_start": int(rs.gp_start), "gp_age_jiffies": (jiffies - int(rs.gp_start)) % (1 << 64) if running else 0,
            "jiffies_stall": int(rs.jiffies_stall), "gp_state": int(rs.gp_state), "gp_state_name": state_name,
            "waiting_cpus": cpus, "blocking_tasks": tasks,
            "gp_activity_age_jiffies": (jiffies - int(rs.gp_activity)) % (1 << 64)}


def workqueue(prog):
    jiffies = int(prog["jiffies_64"])
    pools = []
    for _, pool in idr_for_each(prog["worker_pool_idr"].address_of_()):
        pool = drgn.cast("struct worker_pool *", pool)
        busy = []
        for bucket in pool.busy_hash:
            for w in hlist_for_each_entry("struct worker", bucket.address_of_(), "hentry"):
                busy.append({"task": hex(w.task.value_()), "work": hex(w.current_work.value_()),
                             "func": hex(w.current_func.value_())})
        busy.sort(key=lambda b: int(b["task"], 16))
        pending = [hex(w.func.value_()) for w in
                   list_for_each_entry("struct work_struct", pool.worklist.address_of_(), "entry")]
        cpu = int(pool.cpu)
        pools.append({"address": hex(pool.value_()), "id": int(pool.id), "cpu": cpu if cpu >= 0 else None,
                      "nr_workers": int(pool.nr_workers), "nr_idle": int(pool.nr_idle),
                      "stalled_jiffies": (jiffies - int(pool.watchdog_ts)) % (1 << 64),
                      "busy": busy, "pending": pending})
    return {"pools": pools}


def memcg(prog):
    root = prog["root_mem_cgroup"]
    if not root:
        return {"memcgs": []}
    unlimited = ((1 << 63) - 1) // 4096  # PAGE_COUNTER_MAX: LONG_MAX / PAGE_SIZE

    def event(m, name):
        try:
            return int(m.memory_events[prog.constant(name)].counter)
        except (KeyError, LookupError):
            return 0

    out = []
    for css in css_for_each_descendant_pre(root.css.address_of_()):
        m = drgn.container_of(css, "struct mem_cgroup", "css")
        mx = int(m.memory.max)
        out.append({"path": cgroup_path(css.cgroup).decode(), "usage_pages": max(int(m.memory.usage.counter), 0),
                    "max_pages": mx if mx < unlimited else None, "max_events": event(m, "MEMCG_MAX"),
                    "oom_events": event(m, "MEMCG_OOM"), "oom_kills": event(m, "MEMCG_OOM_KILL")})
    return {"memcgs": out}


def files(prog):
    """Each process (thread group leader, not a kernel thread) with its open
    files. drgn names a file of a pseudo filesystem (pipe, socket, anon
    inode) `[fstype]` where the kernel's d_path asks the dentry."""
    PF_KTHREAD = 0x00200000
    out = []
    for task in for_each_task(prog):
        if int(task.flags) & PF_KTHREAD or int(task.pid) != int(task.tgid) or not task.files:
            continue
        fds = []
        for fd, f in for_each_file(task):
            if not f:  # a descriptor reserved by an open(2) still under way
                continue
            ops = None
            try:
                ops = prog.symbol(int(f.f_op)).name if f.f_op else None
            except LookupError:
                pass
            fds.append({"fd": fd, "path": d_path(f.f_path).decode(errors="replace"),
                        "fs_type": f.f_path.dentry.d_sb.s_type.name.string_().decode(), "ops": ops})
        out.append({"pid": int(task.pid), "files": fds})
    return {"processes": out}


def main():
    prog = drgn.Program()
    prog.set_core_dump(sys.argv[1])
    prog.load_debug_info([sys.argv[2]], default=False, main=True)
    out = {}
    for name, read in [("sched", sched), ("mm", mm), ("rcu", rcu), ("workqueue", workqueue), ("memcg", memcg), ("files", files)]:
        try:
            out[name] = read(prog)
        except Exception as e:  # recorded, so the test can say what drgn could not read
            out[name] = {"error": f"{type(e).__name__}: {e}"}
    with open(sys.argv[3], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
