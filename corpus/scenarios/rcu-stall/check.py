"""The dump shows RCU's stall report and the panic it led to, not a soft lockup."""
LOG_SHOWS = [
    (r"rcu: INFO: rcu_(preempt|sched) (self-)?detected stalls? on CPUs?/tasks|rcu_(preempt|sched) self-detected stall",
     "no RCU stall report in the log"),
    (r"Kernel panic - not syncing: RCU Stall",
     "no panic_on_rcu_stall panic in the log"),
]
LOG_NEVER = [
    (r"soft lockup",
     "a soft lockup was reported too"),
]
