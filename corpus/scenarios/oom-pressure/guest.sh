# Memory exhausted: eaters outgrow RAM, the OOM killer fires, free memory stays
# near the min watermark as the survivors keep allocating.
echo -1000 > /proc/self/oom_score_adj
for i in 1 2; do (echo 1000 > /proc/self/oom_score_adj; exec /bin/eater) & done
until dmesg | grep -q "Out of memory: Killed process"; do sleep 0.5; done
sleep 1
marker READY oom
