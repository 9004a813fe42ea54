"""The drgn equivalent of `vmtriage ps`: open the dump, load the vmlinux, list
every task with its state (used by ps-vs-drgn.sh)."""
import sys

import drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_cpu, task_state_to_char

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]], default=False, main=True)
n = 0
for t in for_each_task(prog):
    print(int(t.pid), int(t.tgid), int(t.real_parent.tgid), t.comm.string_().decode(), task_state_to_char(t), int(task_cpu(t)))
    n += 1
print(n, "tasks", file=sys.stderr)
