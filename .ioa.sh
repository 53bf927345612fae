#!/bin/bash
cat /proc/cmdline | tr ' ' '\n' | grep -E "init_on|apparmor|audit" | tr '\n' ' '; echo
t0=$EPOCHREALTIME
for i in $(seq 100); do a=$(date +%s); done
t1=$EPOCHREALTIME
/usr/bin/python3 -c 'pass'; /usr/bin/python3 -c 'pass'
t2=$EPOCHREALTIME
K=$(uname -r); rm -rf /tmp/k && mkdir -p /tmp/k && cp -r /work/main/kmod /tmp/k/ && cp /work/main/VERSION /tmp/k/
cd /tmp/k/kmod && rm -f *.o *.ko .*.cmd *.mod* modules.order Module.symvers
make -s -C /lib/modules/$K/build M=$PWD -j1 >/dev/null 2>&1
t3=$EPOCHREALTIME
echo "date x100: $(echo "$t1-$t0" | bc)  python x2: $(echo "$t2-$t1" | bc)  kbuild: $(echo "$t3-$t2" | bc)"
