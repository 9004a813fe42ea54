# A module dereferences NULL; panic_on_oops turns the oops into a kdump.
kdump_arm || exit
insmod /lib/vmt/vmtriage_scen.ko mode=null
