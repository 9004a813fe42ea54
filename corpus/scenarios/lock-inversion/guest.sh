# Two lock-order inversions, as they reach production: one between a mutex
# and an rw_semaphore taken by two daemons' system calls, one between two
# rw_semaphores taken for write by two work items of a workqueue. A third
# daemon reads and queues behind. khungtaskd reports them.
echo 5 > /proc/sys/kernel/hung_task_timeout_secs
insmod /lib/vmt/vmtriage_scen.ko mode=inversion
ctl jbd-flush /proc/journal_ctl state &
ctl ckpt-daemon /proc/journal_ctl commit &
sleep 3
ctl stats-agent /proc/journal_ctl read &
until dmesg | grep -q "blocked for more than"; do sleep 0.5; done
sleep 2
marker READY inversion
