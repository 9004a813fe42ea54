# The founding case: a parent in wait() whose ~480 children and threads are
# SIGKILLed at once while tasklist_lock is read-held by a kthread. The exits
# queue on the lock (exit_notify/release_task); the rest sit runnable with
# SIGKILL pending. Nothing may fork after the module loads.
echo 4 > /proc/sys/kernel/watchdog_thresh
/bin/storm 120 3 > /tmp/storm.out &
until grep -q STORM-PARENT /tmp/storm.out; do sleep 0.2; done
set -- $(grep STORM-PARENT /tmp/storm.out)
marker "STORM parent=$2 tasks=$3"
insmod /lib/vmt/vmtriage_scen.ko mode=tasklist tasklist_addr=$(ksym tasklist_lock) parent=$2
