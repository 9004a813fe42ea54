"""Can drgn walk the task list of this dump file? Prints "ok N" or "error: …".

Used for kdump captures: makedumpfile may exclude pages the kernel's own lists
live in (1.7.2 does on 6.12 at -d 31, not knowing its slab page type), so a
dump can be unreadable where its ELF twin is not. The corpus records drgn's
verdict on each file so the tests expect the same of vmtriage."""
import sys

import drgn
from drgn.helpers.linux.pid import for_each_task

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]], default=False, main=True)
try:
    # Read what a task list needs (a task found through the pid table may
    # still have its task_struct page excluded).
    n = 0
    for t in for_each_task(prog):
        int(t.pid), t.comm.string_(), int(t.tasks.next)
        n += 1
    print("ok", n)
except Exception as e:  # drgn.FaultError and friends
    print("error:", str(e).splitlines()[0])
