"""The dump shows CONFIG_DEBUG_LIST's report of a double list_del, made a BUG."""
from checks import log_has


def check(t, recipe):
    p = []
    if not log_has(t, r"list_del corruption"):
        p.append("no list_del corruption report in the log")
    if not log_has(t, r"kernel BUG at lib/list_debug\.c"):
        p.append("the corruption report did not end in a BUG (BUG_ON_DATA_CORRUPTION)")
    return p
