"""The dump shows unreclaimable slab holding a large share of memory."""
from checks import log_has


def check(t, recipe):
    p = []
    if not log_has(t, r"VMTRIAGE-READY slableak"):
        p.append("the leak never reached its size")
    if log_has(t, r"Out of memory|Kernel panic"):
        p.append("the leak ended in an OOM kill or a panic")
    return p
