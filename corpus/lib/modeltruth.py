"""drgn's reading of the kernel model's subsystems, as ground truth for vmtriage's.

Usage: modeltruth.py DUMP VMLINUX OUT.json

One section per subsystem of the model (today `sched`: each online CPU's
runqueue, each task's time since it last got a CPU, the load averages),
each read with drgn's own helpers. A section that drgn cannot read is
recorded with its error, not fatal. Written independently of vmtriage's
Rust code."""
import json
import sys

import drgn
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import cpu_rq, loadavg, task_since_last_arrival_ns


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


def main():
    prog = drgn.Program()
    prog.set_core_dump(sys.argv[1])
    prog.load_debug_info([sys.argv[2]], default=False, main=True)
    out = {}
    for name, read in [("sched", sched)]:
        try:
            out[name] = read(prog)
        except Exception as e:  # recorded, so the test can say what drgn could not read
            out[name] = {"error": f"{type(e).__name__}: {e}"}
    with open(sys.argv[3], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
