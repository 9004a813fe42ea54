"""The dump shows a WARNING that panic_on_warn turned into a panic."""
from checks import log_has


def check(t, recipe):
    p = []
    if not log_has(t, r"WARNING: CPU: \d+ PID: \d+ at .*vmtriage_faults\.c"):
        p.append("no WARNING from the scenario's module in the log")
    if not log_has(t, r"Kernel panic - not syncing: .*panic_on_warn"):
        p.append("no panic_on_warn panic in the log")
    return p
