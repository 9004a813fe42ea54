# A page fault stalled in a driver's fault handler holds mmap_lock for read; a
# writer (mmap) queues; later faults queue behind the writer. The tool writes
# the ready marker itself once the pile-up has formed.
insmod /lib/vmt/vmtriage_scen.ko mode=fault
/bin/faulter 6 &
