# A page fault stalled in a driver's fault handler holds mmap_lock for read; a
# writer (mmap) queues; later faults queue behind the writer.
insmod /lib/vmt/vmtriage_scen.ko mode=fault
/bin/faulter 6 > /tmp/f.out &
until grep -q FAULTER-READY /tmp/f.out; do sleep 0.2; done
marker READY mmap
