"""The dump shows tasks in D waiting on a FUSE filesystem (in the FUSE
request path, or for a page of its file that a FUSE read holds locked),
khungtaskd's reports and the panic it made, and the daemon alive, waiting
for requests on /dev/fuse rather than stuck itself. Where fuse is a module
drgn names none of its functions (no debug info for it), so the victims
in FUSE's request path are told apart by not waiting for a page; their
waits are killable, which khungtaskd does not report."""
from checks import fns

LOG_SHOWS = [
    (r"fusehang: stopped answering",
     "the daemon never stopped answering"),
    (r"blocked for more than",
     "no hung-task warning in the log"),
    (r"Kernel panic - not syncing: hung_task: blocked tasks",
     "no hung_task_panic panic in the log"),
]

PAGE_WAIT = {"folio_wait_bit_common", "wait_on_page_bit_common"}


def check(t, recipe):
    p = []
    victims = [x for x in t["tasks"] if x["comm"] == "fusehang" and x["state"] == "D"]
    if len(victims) < 5:
        p.append(f"only {len(victims)} of the 5 FUSE victims in D")
    on_page = [x for x in victims if fns(x) & PAGE_WAIT]
    if not on_page:
        p.append("no D-state task waiting for a page of the FUSE file")
    if len(on_page) != 2 or len(victims) - len(on_page) < 3:
        p.append(f"{len(on_page)} D-state readers behind the page (want 2), "
                 f"{len(victims) - len(on_page)} other victims (want 3)")
    daemon = [x for x in t["tasks"] if x["comm"] == "fusehang" and x["state"] == "S"]
    if len(daemon) != 1:
        p.append(f"{len(daemon)} FUSE daemons sleeping (want 1)")
    return p
