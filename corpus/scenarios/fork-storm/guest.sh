# Tens of thousands of tasks: a runaway fork loop that exhausts pid_max. Once
# pids run out nothing can fork, so the tool itself writes the ready marker.
echo 20480 > /proc/sys/kernel/pid_max
echo 60000 > /proc/sys/kernel/threads-max
exec /bin/forkstorm 40
