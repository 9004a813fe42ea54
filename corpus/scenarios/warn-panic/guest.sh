# A timer callback hits a WARN_ON; with panic_on_warn (set as fleets set it
# to catch warnings early) the warning becomes a panic and a kdump.
echo 1 > /proc/sys/kernel/panic_on_warn
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=warn
