"""The dump shows a BUG_ON's report from the kthread that hit it."""
LOG_SHOWS = [
    (r"kernel BUG at .*vmtriage_faults\.c:\d+!",
     "no 'kernel BUG at' report from the scenario's module"),
]
LOG_NEVER = [
    (r"list_(add|del) corruption",
     "a list corruption report in a BUG_ON scenario"),
]
