# A service in a cgroup v2 with memory.max outgrows its limit: the memory
# controller's OOM killer ends it, the supervisor restarts it, it is killed
# again. The machine has plenty of memory; only the cgroup is out of it.
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/webapp
echo 64M > /sys/fs/cgroup/webapp/memory.max
echo 0 > /sys/fs/cgroup/webapp/memory.swap.max 2>/dev/null
sh -c 'echo $$ > /sys/fs/cgroup/webapp/cgroup.procs; while true; do /bin/eater; sleep 0.2; done' &
until [ "$(dmesg | grep -c 'Memory cgroup out of memory')" -ge 2 ]; do sleep 0.5; done
marker READY memcg-oom
