#!/bin/bash
# A/B on a loaded machine (session 35): two busy-loop processes beside each run, partnering-fair.
# base = worktree of 5edb2a4 (half within the matching); unguarded = worktree of b280092 (all,
# whatever the matching); guarded = fresh clone of 9223f5e (all only when the matching is
# within 0.5 % of its bound). One venv runs all three.
PY=/work/fc35b/.venv/bin/python
S=partnering-fair
for i in $(seq 1 ${ROUNDS:-2}); do
 for side in base unguarded guarded; do
  case $side in
   base) dir=/work/wt/base;;
   unguarded) dir=/work/wt/unguarded;;
   guarded) dir=/work/fc35b;;
  esac
  out=/tmp/s35/loaded/$S-$side-$i
  mkdir -p $out
  python3 -c "while True: pass" & h1=$!
  python3 -c "while True: pass" & h2=$!
  sleep 2
  echo "$(date +%T) start $S $side $i load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/s35/loaded.log
  (cd $dir && $PY benchmarks/scale.py --size $S --seed 1 --out $out > $out/run.log 2>&1)
  echo "$(date +%T) end $S $side $i rc $? load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/s35/loaded.log
  kill $h1 $h2
 done
done
echo done >> /tmp/s35/loaded.log
