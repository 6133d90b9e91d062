"""Scaling check at partnering-fair size: time to a first schedule and its quality.

A seeded synthetic event (default 2,000 participants, 18,000 accepted wishes, 16 slots on each
of 2 days, 200 tables and a video pool): popularity follows a skewed law (a few organisations
receive many wishes), some participants are online, some host at their own stand, some miss
half a day. The CP-SAT engine is compared with the first-come-first-served greedy baseline
(`solver/greedy.py`) and with its own proven bound.

    .venv/bin/python benchmarks/partnering_scale.py [--participants 2000] [--wishes 18000]
        [--time-limit 120] [--workers 2] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from solver import SolveParameters, solve  # noqa: E402
from solver.check import check  # noqa: E402
from solver.greedy import greedy  # noqa: E402
from solver.problem import Location, Participant, Problem, Progress, Slot, Wish  # noqa: E402


def partnering_fair(participants: int, wishes: int, seed: int) -> Problem:
    rng = random.Random(seed)
    days = ("2025-04-01", "2025-04-02")
    slots = tuple(
        Slot(f"d{d + 1}s{i + 1}", f"d{d + 1}-{'am' if i < 8 else 'pm'}", day, 540 + 30 * i)
        for d, day in enumerate(days)
        for i in range(16)
    )
    half_days = {
        f"d{d + 1}-{part}": [s.id for s in slots if s.session == f"d{d + 1}-{part}"]
        for d in range(2)
        for part in ("am", "pm")
    }
    stands = [Location(f"stand{i}") for i in range(40)]
    locations = (
        *(Location(f"t{i}") for i in range(200)),
        *stands,
        Location("video", kind="online", capacity=150),
    )
    people = []
    for i in range(participants):
        away = (
            frozenset(rng.choice(list(half_days.values()))) if rng.random() < 0.3 else frozenset()
        )
        host = stands[i].id if i < len(stands) else None
        people.append(
            Participant(
                id=f"p{i}",
                organisation=f"o{i}",
                organisation_kind=rng.choice(["cluster", "company", "company", "research"]),
                online=host is None and rng.random() < 0.1,
                unavailable=away,
                max_meetings=rng.choice([None, 12, 16]),
                host_location=host,
            )
        )
    # Popularity skew: recipient i is drawn with weight 1 / (i + 1) ** 0.8.
    weights = [1 / (i + 1) ** 0.8 for i in range(participants)]
    pairs: set[tuple[int, int]] = set()
    out: list[Wish] = []
    while len(out) < wishes:
        sender = rng.randrange(participants)
        recipient = rng.choices(range(participants), weights)[0]
        if sender == recipient or (sender, recipient) in pairs:
            continue
        pairs.add((sender, recipient))
        out.append(
            Wish(
                id=f"w{len(out)}",
                sender=f"p{sender}",
                recipient=f"p{recipient}",
                priority=rng.choice([1, 2, 2, 3]),
            )
        )
    return Problem(
        event="partnering-fair",
        slots=slots,
        locations=locations,
        participants=tuple(people),
        wishes=tuple(out),
        max_meetings_per_participant=16,
        objective=("required", "scheduled"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--wishes", type=int, default=18000)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()

    problem = partnering_fair(args.participants, args.wishes, args.seed)
    started = time.perf_counter()
    baseline = greedy(problem)
    greedy_seconds = time.perf_counter() - started

    first: list[Progress] = []
    params = SolveParameters(
        time_limit_seconds=args.time_limit,
        workers=args.workers,
        on_progress=lambda p: first.append(p) if not first else None,
    )
    started = time.perf_counter()
    solution = solve(problem, params)
    seconds = time.perf_counter() - started
    violations = check(problem, solution).violations
    weight = solution.objective.get("scheduled_weight", 0)
    bound = solution.bound.get("scheduled_weight")
    result = {
        "participants": args.participants,
        "wishes": args.wishes,
        "slots": len(problem.slots),
        "time_limit": args.time_limit,
        "workers": args.workers,
        "status": solution.status,
        "first_schedule_seconds": round(first[0].elapsed_seconds, 1) if first else None,
        "solve_seconds": round(seconds, 1),
        "scheduled_weight": weight,
        "bound": bound,
        "share_of_bound": round(weight / bound, 4) if bound else None,
        "scheduled": solution.objective.get("scheduled"),
        "greedy_weight": baseline.objective["scheduled_weight"],
        "greedy_scheduled": baseline.objective["scheduled"],
        "greedy_seconds": round(greedy_seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "checker_violations": len(violations),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "partnering_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if not violations else 1


if __name__ == "__main__":
    sys.exit(main())
