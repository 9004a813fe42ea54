"""The dump shows a kernel stack overflow caught by the guard page."""
LOG_SHOWS = [
    (r"stack guard page was hit|kernel stack overflow",
     "no stack overflow report in the log"),
]
