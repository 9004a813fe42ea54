# A kthread spins with preemption off: the CPU never passes a quiescent state,
# RCU's stall detector reports it and panic_on_rcu_stall turns the report
# into a kdump. The soft-lockup watchdog is off, so the RCU report is the one.
echo 1 > /proc/sys/kernel/panic_on_rcu_stall
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=softlockup
