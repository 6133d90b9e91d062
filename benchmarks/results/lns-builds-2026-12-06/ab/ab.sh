#!/bin/bash
# The A/B of 6 Dec 2026, as run: `ab.sh trade-fair partnering-fair`, then `ab.sh cluster`.
PY=/work/fc34/.venv/bin/python
for S in "$@"; do
 for i in 1 2 3; do
  for side in base new within; do
   case $side in
    base) dir=/work/wt/base; W=0;;
    new) dir=/work/fc34; W=0;;
    within) dir=/work/fc34; W=0.5;;
   esac
   out=/tmp/s34/ab/$S-$side-$i
   mkdir -p $out
   echo "$(date +%T) start $S $side $i load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/s34/ab.log
   (cd $dir && LNS_WITHIN=$W $PY benchmarks/scale.py --size $S --seed 1 --out $out > $out/run.log 2>&1)
   echo "$(date +%T) end $S $side $i rc $?" >> /tmp/s34/ab.log
  done
 done
done
echo done >> /tmp/s34/ab.log
