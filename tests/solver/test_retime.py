"""The compact re-timing model of the breaks climb (solver/retime.py) against brute force.

On events where every meeting must be held (the B2B setting), its "no" is used as a proof for
the full model, so it must never say no where a schedule exists; and the solver that races it
against the full model must still reach the brute-force optimum.
"""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from solver.brute import brute_force
from solver.candidates import build_candidates
from solver.check import check
from solver.problem import Location, Participant, Problem, Slot, SolveParameters, Wish
from solver.retime import fixed_meeting_set, retime_model
from solver.solve import solve
from tests.solver.test_properties import FAST, WITH_SOLVER


@st.composite
def all_required(draw: st.DrawFn) -> Problem:
    """A small event in the B2B setting: every wish required and addressed to a person, on
    one or two days, with gaps in people's availability and few tables, so that breaks are
    often forced."""
    n_slots = draw(st.integers(3, 6))
    two_days = draw(st.booleans())
    slots = tuple(
        Slot(
            f"s{i}",
            "am" if i < n_slots // 2 else "pm",
            "d2" if two_days and i >= n_slots - 2 else "d1",
        )
        for i in range(n_slots)
    )
    ids = [slot.id for slot in slots]
    people = [f"p{i}" for i in range(draw(st.integers(3, 5)))]
    participants = tuple(
        Participant(
            p, f"o{p}", unavailable=frozenset(draw(st.sets(st.sampled_from(ids), max_size=2)))
        )
        for p in people
    )
    pairs = draw(
        st.lists(st.sampled_from(list(itertools.permutations(people, 2))), min_size=2, max_size=7)
    )
    wishes = tuple(
        Wish(
            f"w{i}",
            a,
            b,
            required=True,
            session=draw(st.sampled_from([None, None, "am", "pm"])),
        )
        for i, (a, b) in enumerate(pairs)
    )
    return Problem(
        event="b2b",
        slots=slots,
        locations=(Location("t1", "table", draw(st.integers(1, 2))),),
        participants=participants,
        wishes=wishes,
        max_break_difference=draw(st.sampled_from([None, 0, 1, 2])),
        objective=("required", "breaks"),
    )


def _answer(problem: Problem, max_breaks: int) -> cp_model.CpSolverStatus:
    candidates = build_candidates(problem)
    meetings = fixed_meeting_set(problem, candidates)
    assert meetings is not None
    question = retime_model(
        problem, meetings, candidates.capacity, max_breaks, problem.max_break_difference
    )
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 10
    return solver.solve(question.model)


@settings(FAST, max_examples=120)
@given(all_required())
def test_retiming_says_no_only_where_no_schedule_has_that_few_breaks(problem: Problem) -> None:
    note(repr(problem))
    best = brute_force(problem)
    if best.status == "infeasible":
        event("no schedule")
        return
    fewest = int(best.objective["breaks"])
    event(f"fewest breaks {min(fewest, 2)}")
    assert _answer(problem, fewest) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if fewest == 0:
        return
    below = _answer(problem, fewest - 1)
    meeting_people = {p for w in problem.wishes for p in (w.sender, w.recipient)}
    # The fairness cap is only modelled when the budget proves someone has no break; above
    # that the compact model is a looser relaxation, which is sound but may say yes.
    if problem.max_break_difference is None or fewest - 1 < len(meeting_people):
        assert below == cp_model.INFEASIBLE


@settings(WITH_SOLVER, max_examples=40)
@given(all_required())
def test_racing_climb_reaches_the_brute_force_optimum(problem: Problem) -> None:
    note(repr(problem))
    best = brute_force(problem)
    found = solve(problem, SolveParameters(time_limit_seconds=20, workers=2))
    assert check(problem, found).ok
    if best.status == "infeasible":
        assert found.status == "infeasible"
        return
    assert found.status == "optimal"
    assert found.objective["breaks"] == best.objective["breaks"]


def _event(wishes: tuple[Wish, ...]) -> Problem:
    return Problem(
        event="e",
        slots=tuple(Slot(f"s{i}", "am", "d1") for i in range(3)),
        locations=(Location("t1", "table", 2),),
        participants=tuple(Participant(p, f"o{p}") for p in ("a", "b", "c")),
        wishes=wishes,
    )


def test_the_meeting_set_is_fixed_only_when_every_meeting_is_required() -> None:
    required = (Wish("w1", "a", "b", required=True), Wish("w2", "b", "c", required=True))
    problem = _event(required)
    fixed = fixed_meeting_set(problem, build_candidates(problem))
    assert fixed is not None
    assert len(fixed) == 2

    optional = _event((*required, Wish("w3", "a", "c")))
    assert fixed_meeting_set(optional, build_candidates(optional)) is None

    chained = _event((required[0], dataclasses.replace(required[1], after=("w1",))))
    assert fixed_meeting_set(chained, build_candidates(chained)) is None
