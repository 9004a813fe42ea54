# A kthread deletes a list entry twice; CONFIG_DEBUG_LIST (Debian's default)
# reports the corruption and BUG_ON_DATA_CORRUPTION turns it into a BUG.
echo 1 > /proc/sys/kernel/panic_on_oops
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=listcorrupt
