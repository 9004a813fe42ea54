"""The dump shows a general protection fault on a non-canonical address, taken in a kworker."""
LOG_SHOWS = [
    (r"general protection fault, probably for non-canonical address",
     "no non-canonical general protection fault in the log"),
]


def check(t, recipe):
    p = []
    crashed = [x for x in t["tasks"] if x["pid"] == t["crashed_pid"]]
    if not crashed or not crashed[0]["comm"].startswith("kworker"):
        p.append("the crashed task is no kworker: " + (crashed[0]["comm"] if crashed else "none"))
    return p
