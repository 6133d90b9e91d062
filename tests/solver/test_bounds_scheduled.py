"""The timeless bound on the scheduled goal and the head start of large events."""

from __future__ import annotations

from solver import solve
from solver.bounds_scheduled import matching_bound
from solver.candidates import build_candidates
from solver.check import check
from solver.large import guided_order
from solver.problem import Location, Participant, Problem, Slot, SolveParameters, Wish

QUICK = SolveParameters(time_limit_seconds=20, deterministic=True)


def event(slot_count: int, wishes: tuple[Wish, ...], cap: int | None = None) -> Problem:
    return Problem(
        event="bound",
        slots=tuple(Slot(f"s{i}", "am", "2026-05-12", 540 + 20 * i) for i in range(slot_count)),
        locations=tuple(Location(f"t{i}") for i in range(3)),
        participants=tuple(Participant(p, organisation=f"o-{p}") for p in "abcd"),
        wishes=wishes,
        max_meetings_per_participant=cap,
        objective=("required", "scheduled"),
    )


TRIANGLE = (
    Wish("ab", "a", "b", priority=1),
    Wish("bc", "b", "c", priority=2),
    Wish("ca", "c", "a", priority=3),
)


def test_one_slot_lets_each_participant_meet_once_so_the_bound_is_the_heaviest_meeting() -> None:
    problem = event(1, TRIANGLE)
    bound = matching_bound(problem, build_candidates(problem), time_limit=10, deterministic=True)
    assert bound.proven_optimal
    assert bound.bound == 3
    assert bound.weight == 3  # the matching that reaches it: the heaviest meeting alone


def test_participant_cap_limits_the_bound() -> None:
    wishes = (Wish("ab", "a", "b"), Wish("ac", "a", "c"), Wish("ad", "a", "d"))
    problem = event(3, wishes, cap=2)
    bound = matching_bound(problem, build_candidates(problem), time_limit=10, deterministic=True)
    assert bound.bound == 4


def test_timeless_bound_misses_odd_cycles_but_the_solver_still_proves_its_optimum() -> None:
    problem = event(2, TRIANGLE)
    # Without time, each of a, b, c may hold two meetings: all three, weight 6. In two slots a
    # triangle holds only two of them: the heaviest two, 3 + 2.
    timeless = matching_bound(problem, build_candidates(problem), 10, deterministic=True)
    assert timeless.bound == 6
    solution = solve(problem, QUICK)
    assert not check(problem, solution).violations
    assert solution.objective["scheduled_weight"] == 5
    assert solution.bound["scheduled_weight"] == 5
    assert solution.status == "optimal"


def test_guided_order_places_the_relaxations_choice_and_heavier_wishes_first() -> None:
    problem = event(1, TRIANGLE[::-1])
    candidates = build_candidates(problem)
    chosen = matching_bound(problem, candidates, time_limit=10, deterministic=True).chosen
    assert next(w.id for w in guided_order(problem, candidates, chosen)) == "ab"
