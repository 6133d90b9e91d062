"""Large events: a strong bound and a strong first schedule for the `scheduled` goal.

CP-SAT alone, on a model with hundreds of thousands of (meeting, slot) Booleans, neither
proves a useful bound nor improves much on its hint in minutes. So before the search:

1. the timeless relaxation (`solver/bounds_scheduled.py`) gives a proven bound on the weight
   and a choice of meetings that reaches it when time allows;
2. the first-come-first-served placement is run again in a better order — the chosen
   meetings first, heavier wishes first, and among them the ones with the fewest usable slots
   — which keeps every rule (it is the same placement as `solver/greedy.py`) and schedules far
   more weight than request order;
3. the better of the two schedules is the hint CP-SAT starts from, and the bound is added to
   the model as an implied constraint so that reaching it ends the search as optimal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from solver.bounds_scheduled import MatchingBound, matching_bound
from solver.candidates import Candidates
from solver.check import check
from solver.greedy import greedy
from solver.problem import Problem, Solution, Wish, wish_weights


@dataclass(frozen=True, slots=True)
class Head:
    """What the scheduled goal starts from."""

    bound: MatchingBound
    #: The best valid schedule found before the search (by weight).
    start: Solution


def head_start(
    problem: Problem,
    candidates: Candidates,
    time_limit: float,
    workers: int,
    seed: int = 0,
    deterministic: bool = False,
) -> Head:
    """Bound and first schedule for the scheduled goal within about `time_limit` seconds."""
    bound = matching_bound(problem, candidates, time_limit, workers, seed, deterministic)
    first = greedy(problem)
    guided = greedy(replace(problem, wishes=guided_order(problem, candidates, bound.chosen)))
    # Placing in another order keeps the rules, but the checker has the last word.
    valid = [
        s for s in (guided, first) if s.status == "feasible" and not check(problem, s).violations
    ]
    best = max(valid, key=lambda s: s.objective.get("scheduled_weight", 0), default=first)
    return Head(bound, best)


def guided_order(
    problem: Problem, candidates: Candidates, chosen: frozenset[int]
) -> tuple[Wish, ...]:
    """Wishes in the order to place them: required first, then those the matching chose,
    heavier first, and the hardest to place (fewest usable slots) first among equals."""
    in_matching: set[str] = set()
    for m in chosen:
        in_matching.update(candidates.meetings[m].direct)
        in_matching.update(candidates.meetings[m].optional)

    def usable_slots(wish: Wish) -> int:
        options = [
            len(candidates.meetings[m].slots)
            for m in candidates.by_wish.get(wish.id, [])
            if not candidates.meetings[m].impossible
        ]
        return min(options, default=0)

    weights = wish_weights(problem.wishes)

    def key(wish: Wish) -> tuple[bool, bool, int, int]:
        weight = weights[wish.id]
        return (not wish.required, wish.id not in in_matching, -weight, usable_slots(wish))

    return tuple(sorted(problem.wishes, key=key))
