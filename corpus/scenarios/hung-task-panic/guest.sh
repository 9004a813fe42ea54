# A driver's loader kthread waits uninterruptibly for a device that never
# answers, and the kthreads that need the device wait for the loader: tasks
# in D with no lock involved. hung_task_panic turns khungtaskd's first
# report into a panic and a kdump.
echo 5 > /proc/sys/kernel/hung_task_timeout_secs
echo 1 > /proc/sys/kernel/hung_task_panic
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=fwwait waiters=3
