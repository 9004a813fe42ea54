# A NULL dereference in softirq context: a driver's timer outlives the
# teardown of its session and follows the session's owner pointer (NULL,
# plus the offset of a field). A harmless WARNING from the same driver comes
# first, so the log holds two reports with a RIP line. panic_on_oops is set
# as fleets set it; the oops in interrupt context would panic anyway.
echo 1 > /proc/sys/kernel/panic_on_oops
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=nulltimer
