#!/bin/bash
# The A/B of 6 Dec 2026 (session 35), as run: `ab.sh trade-fair partnering-fair`.
# base = worktree of 5edb2a4 (half of the sub-models within the matching at every size);
# new = fresh clone of b280092 (all of them on the LNS-only path). One venv runs both.
PY=/work/fc35/.venv/bin/python
for S in "$@"; do
 for i in 1 2 3; do
  for side in base new; do
   case $side in
    base) dir=/work/wt/base;;
    new) dir=/work/fc35;;
   esac
   out=/tmp/s35/ab/$S-$side-$i
   mkdir -p $out
   echo "$(date +%T) start $S $side $i load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/s35/ab.log
   (cd $dir && $PY benchmarks/scale.py --size $S --seed 1 --out $out > $out/run.log 2>&1)
   echo "$(date +%T) end $S $side $i rc $?" >> /tmp/s35/ab.log
  done
 done
done
echo done >> /tmp/s35/ab.log
