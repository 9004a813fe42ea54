"""The dump shows a WARNING that did not panic, then a NULL dereference at a
small offset in the timer callback."""
LOG_SHOWS = [
    (r"WARNING: CPU: \d+ PID: \d+ at .*vmtriage_variants\.c",
     "no WARNING from the scenario's module in the log"),
    (r"BUG: kernel NULL pointer dereference, address: 0+[1-9a-f][0-9a-f]\b",
     "no NULL dereference at a small offset in the log"),
    (r"RIP: 0010:sess_expire",
     "the oops is not in the timer callback"),
]
