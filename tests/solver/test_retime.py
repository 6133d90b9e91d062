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
def all_required(draw: st.DrawFn, orders: bool = True) -> Problem:
    """A small event in the B2B setting: every wish required and addressed to a person, on
    one or two days, with gaps in people's availability and few tables, so that breaks are
    often forced; with `orders`, now and then an `after` rule."""
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
    wishes: list[Wish] = []
    for i, (a, b) in enumerate(pairs):
        # Now and then an order: after one or two earlier wishes of one of the same people
        # but another pair (no cycle; a pair's own order is in a test of its own below).
        earlier = [w.id for w in wishes if len({a, b} & {w.sender, w.recipient}) == 1]
        after = (
            draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True))
            if (orders and earlier and draw(st.integers(0, 3)) == 0)
            else []
        )
        session = draw(st.sampled_from([None, None, "am", "pm"]))
        wishes.append(Wish(f"w{i}", a, b, required=True, session=session, after=tuple(after)))
    return Problem(
        event="b2b",
        slots=slots,
        locations=(Location("t1", "table", draw(st.integers(1, 2))),),
        participants=participants,
        wishes=tuple(wishes),
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
    if any(w.after for w in problem.wishes):
        event("with an order")
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

    # An order between required wishes binds every schedule: the set stays fixed.
    chained = _event((required[0], dataclasses.replace(required[1], after=("w1",))))
    assert fixed_meeting_set(chained, build_candidates(chained)) is not None


def test_the_compact_model_keeps_the_order_of_meetings() -> None:
    """b meets c only after meeting a. With c free only in the first slot, no order is
    possible; with c free from the second slot on, the only schedules put a first."""
    first, then = Wish("w1", "a", "b", required=True), Wish("w2", "b", "c", required=True)
    ordered = _event((first, dataclasses.replace(then, after=("w1",))))
    unordered = _event((first, then))
    c_early = (
        Participant("a", "oa"),
        Participant("b", "ob"),
        Participant("c", "oc", unavailable=frozenset({"s1", "s2"})),
    )
    assert _answer(dataclasses.replace(unordered, participants=c_early), 0) == cp_model.OPTIMAL
    assert _answer(dataclasses.replace(ordered, participants=c_early), 5) == cp_model.INFEASIBLE

    candidates = build_candidates(ordered)
    meetings = fixed_meeting_set(ordered, candidates)
    assert meetings is not None
    question = retime_model(ordered, meetings, candidates.capacity, 0, None)
    solver = cp_model.CpSolver()
    for seed in range(4):
        solver.parameters.random_seed = seed
        assert solver.solve(question.model) == cp_model.OPTIMAL
        slots = question.slots(solver)
        of_wish = {w: slots[m.index] for m in meetings for w in m.direct}
        assert of_wish["w1"] < of_wish["w2"]

    # Two wishes of one pair share a meeting, which cannot come before itself.
    same = _event((first, Wish("w3", "b", "a", required=True, after=("w1",))))
    assert _answer(same, 5) == cp_model.INFEASIBLE
