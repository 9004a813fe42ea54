# Objects of a cache are allocated and never freed until unreclaimable slab
# holds half of RAM; the machine is dumped live (as an administrator would
# before it runs out of memory).
insmod /lib/vmt/vmtriage_scen.ko mode=slableak leak_pct=50
