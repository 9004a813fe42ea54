# A kthread spins with preemption off; softlockup_panic turns the report into a kdump.
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=softlockup
