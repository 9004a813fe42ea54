# A lock-order deadlock: an ABBA pair and a cycle of three on mutexes, and a
# task queued behind the cycle; khungtaskd reports them.
echo 5 > /proc/sys/kernel/hung_task_timeout_secs
insmod /lib/vmt/vmtriage_scen.ko mode=deadlock
until dmesg | grep -q "VMTRIAGE-DEADLOCK-SET"; do sleep 0.5; done
until dmesg | grep -q "blocked for more than"; do sleep 0.5; done
marker READY deadlock
