# Memory exhausted: a hog outgrows RAM and the OOM killer ends it; then a
# holder takes memory back down to the zones' high watermarks and keeps it
# there, the state in which allocations stall in direct reclaim.
echo -1000 > /proc/self/oom_score_adj
(echo 1000 > /proc/self/oom_score_adj; exec /bin/eater) &
until dmesg | grep -q "Out of memory: Killed process"; do sleep 0.5; done
sleep 1
/bin/eater hold &
