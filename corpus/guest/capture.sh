# Runs in the kdump capture kernel: write the dump to the two virtio disks, power off.
echo "VMTRIAGE-CAPTURE-KERNEL" > /dev/kmsg
i=0
while [ ! -b /dev/vda ] || [ ! -b /dev/vdb ]; do
  sleep 0.2; i=$((i + 1))
  [ $i -gt 300 ] && { echo "VMTRIAGE-FAILED no virtio disk" > /dev/kmsg; poweroff -f; }
done
# Flattened streams: a raw disk has no file size to seek in.
makedumpfile -F -l -d 31 /proc/vmcore > /dev/vda && echo "VMTRIAGE-WROTE lzo" > /dev/kmsg
makedumpfile -F -E -d 31 /proc/vmcore > /dev/vdb && echo "VMTRIAGE-WROTE elf" > /dev/kmsg
sync
echo "VMTRIAGE-CAPTURED" > /dev/kmsg
poweroff -f
