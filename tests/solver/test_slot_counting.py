"""The slot-counting lower bound on breaks (solver/bounds.py) against brute force.

The climb starts from this bound and reports a schedule found there as optimal, so it must
never exceed the fewest breaks of any schedule.
"""

from __future__ import annotations

import itertools

from hypothesis import event, given, note, settings

from solver.bounds import _count_patterns, _patterns, slot_counting_bound
from solver.brute import brute_force
from solver.candidates import build_candidates
from solver.problem import Location, Participant, Problem, Slot, Wish
from solver.retime import fixed_meeting_set
from tests.solver.test_properties import FAST
from tests.solver.test_retime import all_required


def _bound(problem: Problem) -> int:
    candidates = build_candidates(problem)
    meetings = fixed_meeting_set(problem, candidates)
    assert meetings is not None
    return slot_counting_bound(problem, meetings, candidates.capacity, problem.max_break_difference)


@settings(FAST, max_examples=150)
@given(all_required())
def test_the_slot_counting_bound_never_exceeds_the_fewest_breaks(problem: Problem) -> None:
    note(repr(problem))
    best = brute_force(problem)
    if best.status == "infeasible":
        event("no schedule")
        return
    bound = _bound(problem)
    event(f"bound {min(bound, 2)}")
    assert bound <= best.objective["breaks"]


def test_a_full_slot_forces_breaks_that_no_participant_alone_has() -> None:
    # a, b and c all meet each other in three slots at one table: alone, each fits its two
    # meetings side by side, but the middle slot holds one meeting (two busy participants),
    # so the third participant is idle between its meetings.
    problem = Problem(
        event="e",
        slots=tuple(Slot(f"s{i}", "am", "d1") for i in range(3)),
        locations=(Location("t1", "table", 1),),
        participants=tuple(Participant(p, f"o{p}") for p in "abc"),
        wishes=(
            Wish("w1", "a", "b", required=True),
            Wish("w2", "b", "c", required=True),
            Wish("w3", "c", "a", required=True),
        ),
        objective=("required", "breaks"),
    )
    assert brute_force(problem).objective["breaks"] == 1
    assert _bound(problem) == 1


def test_patterns_are_counted_before_they_are_listed() -> None:
    days = {0: (0, None), 1: (0, 0), 2: (0, 1), 3: (0, 2), 4: (1, None), 5: (1, 4), 6: (1, 5)}
    order = list(range(7))
    for size, most in itertools.product(range(1, 6), range(0, 3)):
        domains = tuple((0, 1, 2, 3, 4, 5, 6) for _ in range(size))
        listed = _patterns(domains, order, days, most)
        assert len(listed) == _count_patterns(order, days, size, most)
        for slots, breaks in listed:
            assert len(slots) == size
            assert breaks <= most
    # A meeting that can only be in slot 6 leaves out patterns without it.
    narrow = ((0, 1, 2, 3, 4, 5, 6), (6,))
    assert all(6 in slots for slots, _ in _patterns(narrow, order, days, 2))
