"""The dump shows RCU's stall report naming a blocked task, and the panic it
led to; no CPU spins."""
LOG_SHOWS = [
    (r"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks",
     "no RCU stall report in the log"),
    (r"Tasks blocked on level-\d+ rcu_node",
     "the stall report names no blocked task"),
    (r"Kernel panic - not syncing: RCU Stall",
     "no panic_on_rcu_stall panic in the log"),
]
LOG_NEVER = [
    (r"soft lockup|self-detected stall",
     "a CPU spun: this scenario's stall has no CPU at fault"),
]
