"""The dump shows RCU's stall report and the panic it led to, not a soft lockup."""
from checks import log_has


def check(t, recipe):
    p = []
    if not log_has(t, r"rcu: INFO: rcu_(preempt|sched) (self-)?detected stalls? on CPUs?/tasks|rcu_(preempt|sched) self-detected stall"):
        p.append("no RCU stall report in the log")
    if not log_has(t, r"Kernel panic - not syncing: RCU Stall"):
        p.append("no panic_on_rcu_stall panic in the log")
    if log_has(t, r"soft lockup"):
        p.append("a soft lockup was reported too")
    return p
