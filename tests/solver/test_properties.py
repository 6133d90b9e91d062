"""Property tests on small random events: brute force, greedy, the checker and the optimiser
must agree.

The brute-force solver enumerates every valid schedule, so on these events its optimum is the
truth: greedy can never beat it, every schedule it produces passes the checker, and the
CP-SAT solver (deterministic mode) must reach the same objective vector.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from solver.brute import all_schedules, brute_force
from solver.check import EventIndex, check, evaluate, meeting_kind
from solver.explain import explain_unscheduled, find_conflicts
from solver.greedy import greedy
from solver.problem import (
    GOALS,
    Location,
    Meeting,
    Participant,
    Problem,
    Slot,
    Solution,
    SolveParameters,
    Wish,
)
from solver.report import objective_key

T = TypeVar("T")

OBJECTIVES = [
    ("required", "scheduled", "fairness", "breaks", "stability"),
    ("required", "breaks"),
    ("required", "fairness", "scheduled", "breaks"),
    ("required", "stability", "scheduled"),
]


def rarely(strategy: st.SearchStrategy[T], otherwise: T) -> st.SearchStrategy[T]:
    """`strategy` one time in four, else `otherwise`: most wishes and people are plain, so
    that the rules which do apply still bind often enough to matter."""
    return st.integers(0, 3).flatmap(lambda n: strategy if n == 0 else st.just(otherwise))


@st.composite
def problems(
    draw: st.DrawFn, max_participants: int = 5, max_slots: int = 4, max_wishes: int = 6
) -> Problem:
    n_slots = draw(st.integers(1, max_slots))
    first_day = draw(st.integers(1, n_slots))
    slots = tuple(
        Slot(
            f"s{i}",
            draw(st.sampled_from(["am", "pm"])) if i <= first_day else "d2",
            "day1" if i <= first_day else "day2",
        )
        for i in range(1, n_slots + 1)
    )
    slot_ids = [s.id for s in slots]
    locations = tuple(
        Location(
            f"l{i}",
            draw(st.sampled_from(["table", "table", "online"])),
            draw(st.integers(1, 2)),
        )
        for i in range(1, draw(st.integers(1, 2)) + 1)
    )
    onsite = [loc.id for loc in locations if loc.kind != "online"]
    org_kinds = {f"o{i}": draw(st.sampled_from(["cluster", "company"])) for i in range(1, 5)}
    participants = []
    for i in range(1, draw(st.integers(2, max_participants)) + 1):
        org = draw(st.sampled_from(sorted(org_kinds)))
        participants.append(
            Participant(
                f"p{i}",
                org,
                org_kinds[org],  # type: ignore[arg-type]
                online=draw(rarely(st.just(True), False)),
                unavailable=frozenset(draw(rarely(st.sets(st.sampled_from(slot_ids)), set()))),
                max_meetings=draw(rarely(st.integers(1, 3), None)),
                host_location=draw(rarely(st.sampled_from(onsite), None)) if onsite else None,
            )
        )
    people = [p.id for p in participants]
    orgs = sorted({p.organisation for p in participants})
    wishes: list[Wish] = []
    for i in range(1, draw(st.integers(0, max_wishes)) + 1):
        sender = draw(st.sampled_from(people))
        to_org = draw(st.integers(0, 4)) == 0
        others = [p for p in people if p != sender]
        wishes.append(
            Wish(
                f"w{i}",
                sender,
                recipient=None if to_org else draw(st.sampled_from(others)),
                recipient_organisation=draw(st.sampled_from(orgs)) if to_org else None,
                priority=draw(st.integers(1, 3)),
                required=draw(rarely(st.just(True), False)),
                session=draw(rarely(st.sampled_from(["am", "pm"]), None)),
                fixed_slot=draw(rarely(st.sampled_from(slot_ids), None)),
                after=draw(rarely(st.sampled_from([(w.id,) for w in wishes]), ()))
                if wishes
                else (),
                separate=draw(rarely(st.just(True), False)),
            )
        )
    problem = Problem(
        event="random",
        slots=slots,
        locations=locations,
        participants=tuple(participants),
        wishes=tuple(wishes),
        max_meetings_per_participant=draw(rarely(st.integers(1, 3), None)),
        max_meetings_total=draw(rarely(st.integers(1, 4), None)),
        max_break_difference=draw(rarely(st.integers(0, 1), None)),
        objective=draw(st.sampled_from(OBJECTIVES)),
    )
    if draw(st.booleans()):
        # Re-planning: the greedy schedule of the same event was published.
        problem = dataclasses.replace(problem, published=tuple(greedy(problem).meetings))
    return problem


def explained(problem: Problem, solution: Solution) -> Solution:
    solution.unscheduled = explain_unscheduled(problem, solution.meetings)
    return solution


FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
#: Every example of these runs the CP-SAT solver: fewer examples, and no shrinking, which could
#: take many minutes on a loaded machine; the failing event is printed whole instead (`note`).
WITH_SOLVER = settings(FAST, phases=[Phase.explicit, Phase.reuse, Phase.generate])


@FAST
@given(problems())
def test_brute_force_optimum_passes_the_checker(problem: Problem) -> None:
    solution = explained(problem, brute_force(problem))
    report = check(problem, solution)
    assert report.ok, report.violations
    met = {w for m in solution.meetings for w in m.wishes}
    assert {u.wish for u in solution.unscheduled} == {w.id for w in problem.wishes} - met


@FAST
@given(problems(), st.integers(0, 2))
def test_optimal_schedule_leaves_no_wish_with_a_free_place(problem: Problem, d: int) -> None:
    # With `scheduled` first, adding any wish to an optimal schedule would gain, so each unmet
    # wish must be blocked by a rule, and the explanation must name it (never `not_found`).
    problem = dataclasses.replace(problem, objective=GOALS, max_break_difference=d)
    solution = explained(problem, brute_force(problem))
    if solution.status == "optimal":
        assert "not_found" not in {u.reason for u in solution.unscheduled}


@FAST
@given(problems())
def test_greedy_is_valid_and_never_beats_brute_force(problem: Problem) -> None:
    baseline = greedy(problem)
    report = check(problem, baseline)
    assert report.ok, report.violations
    best = brute_force(problem)
    assert objective_key(problem, best.objective) >= objective_key(problem, baseline.objective)
    if baseline.status == "feasible":
        assert best.status == "optimal"


def _raw_valid_schedules(problem: Problem) -> set[frozenset[tuple[str, str, str]]]:
    """Every combination of (partner, slot, location) per wish that the checker accepts."""
    index = EventIndex(problem)
    options: list[list[tuple[str, str, str, str] | None]] = []
    for w in problem.wishes:
        options.append(
            [None]
            + [
                (w.id, p, s.id, loc.id)
                for p in index.candidates(w)
                for s in problem.slots
                for loc in problem.locations
            ]
        )
    valid = set()
    for combo in itertools.product(*options):
        chosen = [c for c in combo if c is not None]
        meetings = _meetings_from(index, chosen)
        solution = Solution("infeasible", meetings=meetings)
        solution.unscheduled = explain_unscheduled(problem, meetings)
        if check(problem, solution).ok:
            valid.add(frozenset((w, p, s) for w, p, s, _ in chosen))
    return valid


def _meetings_from(index: EventIndex, chosen: list[tuple[str, str, str, str]]) -> list[Meeting]:
    """One meeting per wish, except wishes that are not separate between the same two
    participants in the same slot and location, which share one."""
    groups: dict[tuple[object, ...], list[tuple[str, str, str, str]]] = {}
    for c in chosen:
        wish = index.wishes[c[0]]
        pair = frozenset((wish.sender, c[1]))
        key: tuple[object, ...] = (c[0],) if wish.separate else (pair, c[2], c[3])
        groups.setdefault(key, []).append(c)
    meetings = []
    for members in groups.values():
        first = index.wishes[members[0][0]]
        partner, slot, location = members[0][1:]
        kind = meeting_kind(index.participants[first.sender], index.participants[partner])
        meetings.append(
            Meeting(tuple(c[0] for c in members), slot, location, (first.sender, partner), kind)
        )
    return meetings


@settings(max_examples=150, deadline=None, database=None)
@given(problems(max_participants=4, max_slots=3, max_wishes=3))
def test_brute_force_enumerates_exactly_the_schedules_the_checker_accepts(
    problem: Problem,
) -> None:
    enumerated = set()
    for meetings in all_schedules(problem):
        solution = explained(problem, Solution("infeasible", meetings=meetings))
        assert check(problem, solution).ok, check(problem, solution).violations
        enumerated.add(
            frozenset(
                (w, next(p for p in m.participants if p != problem_sender(problem, w)), m.slot)
                for m in meetings
                for w in m.wishes
            )
        )
    assert enumerated == _raw_valid_schedules(problem)


def problem_sender(problem: Problem, wish: str) -> str:
    return next(w.sender for w in problem.wishes if w.id == wish)


def _optimiser():  # type: ignore[no-untyped-def]
    try:
        from solver import solve
    except ImportError:  # the CP-SAT engine is written in parallel; until then, skip
        return None
    return solve


@settings(WITH_SOLVER, max_examples=100)
@given(problems())
def test_optimiser_reaches_the_brute_force_optimum(problem: Problem) -> None:
    solve = _optimiser()
    if solve is None:
        pytest.skip("solver.solve is not available yet")
    note(repr(problem))
    best = brute_force(problem)
    found = solve(problem, SolveParameters(time_limit_seconds=20, deterministic=True, workers=1))
    report = check(problem, found)
    assert report.ok, report.violations
    if best.status == "infeasible":
        assert found.status == "infeasible"
        return
    assert found.status == "optimal"
    assert objective_key(problem, evaluate(problem, found.meetings)) == objective_key(
        problem, best.objective
    )


@pytest.mark.slow
@settings(WITH_SOLVER, max_examples=200)
@given(problems(max_participants=6, max_slots=5, max_wishes=7))
def test_larger_sweep_of_greedy_brute_force_and_optimiser(problem: Problem) -> None:
    note(repr(problem))
    best = explained(problem, brute_force(problem))
    assert check(problem, best).ok
    baseline = greedy(problem)
    assert check(problem, baseline).ok
    assert objective_key(problem, best.objective) >= objective_key(problem, baseline.objective)
    solve = _optimiser()
    if solve is not None:
        found = solve(
            problem, SolveParameters(time_limit_seconds=30, deterministic=True, workers=1)
        )
        assert check(problem, found).ok
        assert found.status == best.status
        if best.status == "optimal":
            achieved = evaluate(problem, found.meetings)
            assert objective_key(problem, achieved) == objective_key(problem, best.objective)


@FAST
@given(problems())
def test_conflicts_are_found_exactly_when_required_wishes_cannot_all_be_met(
    problem: Problem,
) -> None:
    # The break limit is left out: more optional meetings can lower a break difference, so
    # whether required wishes alone conflict with it is not monotone.
    problem = dataclasses.replace(problem, max_break_difference=None)
    required = [w for w in problem.wishes if w.required]
    conflicts = find_conflicts(problem)
    if brute_force(problem).status == "optimal":
        assert conflicts == []
        return
    assert conflicts
    named = {w for c in conflicts for w in c.wishes}
    assert named <= {w.id for w in required}
    # The core is sufficient: with every other wish optional, the event is still infeasible.
    relaxed = tuple(dataclasses.replace(w, required=w.id in named) for w in problem.wishes)
    assert brute_force(dataclasses.replace(problem, wishes=relaxed)).status == "infeasible"


@FAST
@given(problems())
def test_any_suitable_location_answers_as_every_location_tried_in_turn(problem: Problem) -> None:
    index = EventIndex(problem)
    for a, b in itertools.permutations(index.participants, 2):
        tried = any(index.suitable_location(loc, a, b) for loc in problem.locations)
        assert index.any_suitable_location(a, b) == tried, (a, b)
