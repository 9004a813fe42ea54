"""The dump shows a WARNING that panic_on_warn turned into a panic."""
LOG_SHOWS = [
    (r"WARNING: CPU: \d+ PID: \d+ at .*vmtriage_faults\.c",
     "no WARNING from the scenario's module in the log"),
    (r"Kernel panic - not syncing: .*panic_on_warn",
     "no panic_on_warn panic in the log"),
]
