# A reader that sleeps inside an RCU read-side section: a driver kthread
# holds rcu_read_lock() across a wait for its device, while another
# publishes a new table and waits in synchronize_rcu(). Preemptible RCU
# lets the reader block, so no CPU is at fault: the stall detector reports
# the blocked task, and panic_on_rcu_stall turns the report into a kdump.
echo 1 > /proc/sys/kernel/panic_on_rcu_stall
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=rcusleep
