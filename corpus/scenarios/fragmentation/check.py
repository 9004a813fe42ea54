"""The dump shows a high-order allocation that failed with memory free."""
from checks import log_has


def check(t, recipe):
    p = []
    if not log_has(t, r"VMTRIAGE-READY ringgrow"):
        p.append("the order-9 allocation never failed")
    if not log_has(t, r"page allocation failure: order:9"):
        p.append("the kernel printed no allocation failure")
    if log_has(t, r"Out of memory|Kernel panic"):
        p.append("the fragmentation ended in an OOM kill or a panic")
    return p
