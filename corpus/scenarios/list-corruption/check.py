"""The dump shows CONFIG_DEBUG_LIST's report of a double list_del, made a BUG."""
LOG_SHOWS = [
    (r"list_del corruption",
     "no list_del corruption report in the log"),
    (r"kernel BUG at lib/list_debug\.c",
     "the corruption report did not end in a BUG (BUG_ON_DATA_CORRUPTION)"),
]
