#!/bin/bash
cd /work/fc36b
for round in 1 2 3; do
  for size in cluster trade-fair partnering-fair; do
    echo "== round $round $size $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    .venv/bin/python benchmarks/scale.py --size $size --seed 1 --out /tmp/r/scale36/r$round-$size 2>&1 | tail -25
  done
done
echo "== b2b $(date -u +%H:%M:%S)"
.venv/bin/python benchmarks/b2b_udg.py --cli --runs 3 --time-limit 25 --workers 2 --out /tmp/r --name final3-36 > /tmp/r/final3-36.log 2>&1
echo "== done $(date -u +%H:%M:%S)"
