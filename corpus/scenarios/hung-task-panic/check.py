"""The dump shows khungtaskd's report and the panic hung_task_panic made of it,
with tasks in D waiting on completions, not locks."""
from checks import fns

LOG_SHOWS = [
    (r"blocked for more than",
     "no hung-task warning in the log"),
    (r"Kernel panic - not syncing: hung_task: blocked tasks",
     "no hung_task_panic panic in the log"),
]


def check(t, recipe):
    p = []
    waiting = [x for x in t["tasks"] if x["state"] == "D" and fns(x) & {"wait_for_completion", "__wait_for_common"}]
    if len(waiting) < 2:
        p.append(f"only {len(waiting)} D-state tasks waiting on a completion")
    return p
