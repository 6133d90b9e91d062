"""How close the timeless relaxation's matching is to its own bound, by time limit.

The LNS of the largest events holds every sub-model within that matching only when the
matching meets at least `solver.solve.MATCHING_CLOSE` of its bound (`solve.matched_share`).
This solves the relaxation alone (`solver.bounds_scheduled.matching_bound`, 2 workers) on the
seeded events of `benchmarks/scale.py` with the time limits asked for, and prints the bound,
the matching's weight, how far below the bound it is and the load average:

    .venv/bin/python benchmarks/matching_gap.py --size partnering-fair --limits 15 8 6 4
"""

from __future__ import annotations

import argparse
import time

import repo_root  # noqa: F401  (puts the repository on the path)
from scale import SIZES, generate

from solver.bounds_scheduled import matching_bound
from solver.candidates import build_candidates
from solver.solve import MATCHING_CLOSE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="partnering-fair")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limits", type=float, nargs="+", default=[15.0])
    args = parser.parse_args()
    problem = generate(args.size, args.seed)
    candidates = build_candidates(problem)
    print(
        "| size | time limit (s) | bound | matching's weight | below the bound | proven "
        "| every sub-model within it | wall (s) | load |"
    )
    print("|---|---:|---:|---:|---:|---|---|---:|---|")
    for limit in args.limits:
        started = time.monotonic()
        found = matching_bound(problem, candidates, limit, args.workers, args.seed)
        wall = time.monotonic() - started
        gap = 1 - found.weight / found.bound if found.bound else 0.0
        close = found.weight >= MATCHING_CLOSE * found.bound
        with open("/proc/loadavg") as loadavg:
            load = " ".join(loadavg.read().split()[:3])
        print(
            f"| {args.size} | {limit:g} | {found.bound} | {found.weight} | {100 * gap:.2f} % "
            f"| {'yes' if found.proven_optimal else 'no'} | {'yes' if close else 'no'} "
            f"| {wall:.1f} | {load} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
