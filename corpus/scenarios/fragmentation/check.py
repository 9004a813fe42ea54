"""The dump shows a high-order allocation that failed with memory free."""
LOG_SHOWS = [
    (r"VMTRIAGE-READY ringgrow",
     "the order-9 allocation never failed"),
    (r"page allocation failure: order:9",
     "the kernel printed no allocation failure"),
]
LOG_NEVER = [
    (r"Out of memory|Kernel panic",
     "the fragmentation ended in an OOM kill or a panic"),
]
