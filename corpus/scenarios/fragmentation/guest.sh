# Memory fragmented by unmovable pages: pipe buffers fill RAM and every
# other one is freed again, so half of memory is free but in single pages.
# The administrator then reserves huge pages at run time (they take what
# 2 MB blocks were left), and a driver's kthread asks for a 2 MB buffer:
# "page allocation failure: order:9" with hundreds of megabytes free. The
# machine is dumped live, as it would be to find out why.
echo $((16 << 20)) > /proc/sys/fs/pipe-max-size
fragment 16 &
until [ -e /tmp/fragment.done ]; do sleep 0.5; done
echo 1024 > /proc/sys/vm/nr_hugepages
echo "hugepages reserved: $(cat /proc/sys/vm/nr_hugepages)"
cat /proc/buddyinfo
insmod /lib/vmt/vmtriage_scen.ko mode=ringgrow order=9
