# A quiet system: the negative control.
sleep 2
marker READY idle
