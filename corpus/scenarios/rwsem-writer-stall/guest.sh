# A kthread holds an rwsem for write and waits for a device that never
# answers; readers queue, another writer queues, later readers queue behind
# it. Not an mmap_lock: the mm rule must stay silent. khungtaskd reports them.
echo 5 > /proc/sys/kernel/hung_task_timeout_secs
insmod /lib/vmt/vmtriage_scen.ko mode=rwsem
sleep 1
for i in 1 2; do cat /proc/vmtriage_rwsem & done
sleep 0.5
(echo x > /proc/vmtriage_rwsem) &
sleep 0.5
for i in 1 2 3; do cat /proc/vmtriage_rwsem & done
until dmesg | grep -q "blocked for more than"; do sleep 0.5; done
marker READY rwsem
