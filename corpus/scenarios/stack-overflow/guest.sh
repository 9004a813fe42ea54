# A kthread recurses until it runs off its stack: with VMAP_STACK the guard
# page turns the overflow into a double fault, which always panics.
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=overflow
