"""The dump shows a kernel stack overflow caught by the guard page."""
from checks import log_has


def check(t, recipe):
    p = []
    if not log_has(t, r"stack guard page was hit|kernel stack overflow"):
        p.append("no stack overflow report in the log")
    return p
