# A FUSE daemon stops answering in the middle of a read: the readers of its
# file (one in the request, two behind the page it holds locked) and the
# tasks looking names up on it (one in the request, one behind the
# directory's mutex) wait in D for good, while the daemon itself is alive,
# waiting for requests on /dev/fuse. hung_task_panic turns khungtaskd's
# first report (the mutex wait: the others are killable, which it skips)
# into a panic and a kdump.
echo 5 > /proc/sys/kernel/hung_task_timeout_secs
kdump_arm || exit
[ -e /lib/vmt/fuse.ko ] && insmod /lib/vmt/fuse.ko
mkdir -p /mnt/vmt
fusehang serve /mnt/vmt &
until grep -q " /mnt/vmt fuse" /proc/mounts; do sleep 0.2; done
stat /mnt/vmt/data >/dev/null || { marker "FAILED the FUSE mount does not answer"; exit; }
victims=""
for i in 1 2 3; do fusehang read /mnt/vmt/data & victims="$victims $!"; done
until [ "$(ls /tmp/fusehang.opened.* 2>/dev/null | wc -l)" = 3 ]; do sleep 0.1; done
touch /tmp/fusehang.go
until dmesg | grep -q "fusehang: stopped answering"; do sleep 0.2; done
for i in 1 2; do fusehang stat /mnt/vmt/missing-$i & victims="$victims $!"; done
sleep 1
# Interruptible FUSE waits become killable (D) once a signal arrived.
kill -USR1 $victims
for p in $victims; do
  until grep -q "^State:.*D" /proc/$p/status; do sleep 0.2; done
done
# Every victim stays in D a whole timeout before the report that panics.
sleep 6
echo 1 > /proc/sys/kernel/hung_task_panic
