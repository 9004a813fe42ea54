"""The dump shows memory-cgroup OOM kills, with no global OOM."""
import re

LOG_NEVER = [
    (r"constraint=CONSTRAINT_NONE",
     "a global (unconstrained) OOM kill happened too"),
]


def check(t, recipe):
    p = []
    kills = [r for r in t["dmesg"] if re.search(r"Memory cgroup out of memory", r["text"])]
    if len(kills) < 2:
        p.append(f"{len(kills)} memory-cgroup OOM kills in the log (want >= 2)")
    return p
