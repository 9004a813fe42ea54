"""The dump shows unreclaimable slab holding a large share of memory."""
LOG_SHOWS = [
    (r"VMTRIAGE-READY slableak",
     "the leak never reached its size"),
]
LOG_NEVER = [
    (r"Out of memory|Kernel panic",
     "the leak ended in an OOM kill or a panic"),
]
