# A module dereferences NULL; panic_on_oops (set the way administrators do,
# through the sysctl) turns the oops into a panic and a kdump.
echo 1 > /proc/sys/kernel/panic_on_oops
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=null
