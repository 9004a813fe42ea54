# A work item follows a deleted list entry's poisoned pointer: a general
# protection fault on a non-canonical address in a kworker; panic_on_oops
# (the sysctl, as administrators set it) turns it into a kdump.
echo 1 > /proc/sys/kernel/panic_on_oops
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=gpf
