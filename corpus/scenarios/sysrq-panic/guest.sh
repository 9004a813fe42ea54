# A manual crash through sysrq: not a bug, an operator's choice.
kdump_arm || exit
sleep 1
echo c > /proc/sysrq-trigger
