# A kthread finds a request in a state its code asserts impossible: BUG_ON,
# an invalid-opcode trap reported as "kernel BUG at file:line"; a BUG always
# kills the task, panic_on_oops makes it a kdump.
echo 1 > /proc/sys/kernel/panic_on_oops
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=bug
