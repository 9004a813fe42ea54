"""The dump shows a BUG_ON's report from the kthread that hit it."""
from checks import log_has


def check(t, recipe):
    p = []
    if not log_has(t, r"kernel BUG at .*vmtriage_faults\.c:\d+!"):
        p.append("no 'kernel BUG at' report from the scenario's module")
    if log_has(t, r"list_(add|del) corruption"):
        p.append("a list corruption report in a BUG_ON scenario")
    return p
