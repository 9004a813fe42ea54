# Tasks in D state behind a mutex whose owner sleeps; khungtaskd reports them.
echo 5 > /proc/sys/kernel/hung_task_timeout_secs
insmod /lib/vmt/vmtriage_scen.ko mode=mutex
sleep 1
for i in 1 2 3 4 5 6; do (echo x > /proc/vmtriage_mutex) & done
until dmesg | grep -q "blocked for more than"; do sleep 0.5; done
marker READY mutex
