"""Break counting for the `breaks` goal.

A break of a participant is a maximal run of free slots between two of its meetings on the same
day (slots are consecutive when they are chronological neighbours on that day, so a lunch pause
between sessions is no break by itself, and different days never join).

Encoding, per participant and day: `busy[t]` (in a meeting at slot t) and runs of meetings as a
flow, `busy[t] - busy[t-1] = starts[t] - ends[t]` (solver/runs.py). A participant's breaks on a
day are its runs minus one when it meets that day at all. The fairness cap `d` bounds the
breaks of every participant with a meeting by the fewest such breaks plus d (Bofill et al.,
JAIR 2022: fairness over the businesses that have meetings).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from solver.bounds import fits_block, fixed_meetings_of, least_breaks, slot_counting_bound
from solver.problem import slots_by_day
from solver.retime import fixed_meeting_set
from solver.runs import busy_literal, day_runs

if TYPE_CHECKING:
    from solver.model import TimetableModel


@dataclass
class BreakTerms:
    total: cp_model.LinearExprT
    #: participant id -> its number of breaks.
    per_participant: dict[str, cp_model.LinearExprT] = field(default_factory=dict)
    #: A proven lower bound on `total` (from each participant alone, and from the capacity of
    #: each slot when every meeting must be held; see solver/bounds.py).
    lower_bound: int = 0


def add_break_terms(tm: TimetableModel, max_difference: int | None) -> BreakTerms:
    model = tm.model
    per_participant: dict[str, cp_model.LinearExprT] = {}
    has_meeting: dict[str, cp_model.IntVar] = {}
    days = slots_by_day(tm.problem)
    busy_of: dict[str, dict[int, cp_model.IntVar]] = {}
    for person, by_slot in tm.busy_terms.items():
        busy = {t: busy_literal(model, literals) for t, literals in by_slot.items()}
        busy_of[person] = busy
        count: list[cp_model.LinearExprT] = []
        for day in days:
            day_busy = [(t, busy.get(t)) for t in day]
            if sum(1 for _, b in day_busy if b is not None) < 2:
                continue  # at most one possible meeting that day: never a break
            count.append(day_runs(model, [b for _, b in day_busy]).breaks)
        has_meeting[person] = _has_meeting(model, tm, person)
        if not count:
            per_participant[person] = 0
            continue
        breaks = model.new_int_var(0, len(tm.problem.slots), f"breaks[{person}]")
        model.add(breaks == sum(count))
        per_participant[person] = breaks
    add_implied_counts(tm, busy_of)
    lower_bound = bound_breaks_from_below(tm, per_participant)
    fixed = fixed_meeting_set(tm.problem, tm.candidates)
    if fixed is not None:
        # Every meeting must be held: count busy participants per slot for a higher bound.
        lower_bound = slot_counting_bound(
            tm.problem, fixed, tm.candidates.capacity, max_difference, lower_bound
        )
    if len(days) == 1:
        add_block_windows(tm, per_participant, busy_of)
    total = sum(per_participant.values())
    if max_difference is not None and per_participant:
        cap_break_difference(
            model, per_participant, has_meeting, max_difference, len(tm.problem.slots)
        )
    return BreakTerms(total, per_participant, lower_bound)


def bound_breaks_from_below(
    tm: TimetableModel, per_participant: dict[str, cp_model.LinearExprT]
) -> int:
    """Cut each participant's breaks by what its own fixed meetings force; return the sum."""
    total = 0
    for person, meetings in fixed_meetings_of(tm.problem, tm.candidates.meetings).items():
        least = least_breaks(tm.problem, meetings)
        if least > 0 and person in per_participant:
            tm.model.add(per_participant[person] >= least)
            total += least
    return total


def add_block_windows(
    tm: TimetableModel,
    per_participant: dict[str, cp_model.LinearExprT],
    busy_of: dict[str, dict[int, cp_model.IntVar]],
) -> None:
    """A participant without breaks meets in one block of consecutive slots. For participants
    whose meetings are all certain, list the blocks that can hold them (a matching check) and
    let one block literal decide the whole busy pattern: a far stronger statement than the
    slot-by-slot break literals when the break budget is tight.
    """
    model = tm.model
    horizon = len(tm.problem.slots)
    for person, meetings in fixed_meetings_of(tm.problem, tm.candidates.meetings).items():
        size = len(meetings)
        if size < 2 or person not in busy_of or isinstance(per_participant[person], int):
            continue
        busy = busy_of[person]
        blocks = [first for first in range(horizon - size + 1) if fits_block(meetings, first)]
        no_break = model.new_bool_var(f"one_block[{person}]")
        model.add(per_participant[person] >= 1).only_enforce_if(no_break.Not())
        chosen = []
        for first in blocks:
            block = model.new_bool_var(f"block[{person},{first}]")
            for t, literal in busy.items():
                model.add_implication(
                    block, literal if first <= t < first + size else literal.Not()
                )
            chosen.append(block)
        model.add(sum(chosen) == no_break)


def add_implied_counts(tm: TimetableModel, busy_of: dict[str, dict[int, cp_model.IntVar]]) -> None:
    """Counts the search can use directly on the busy literals: a participant is busy in as many
    slots as it has meetings, and a slot has twice as many busy participants as meetings."""
    model = tm.model
    held_by: dict[str, list[cp_model.IntVar]] = defaultdict(list)
    at_slot: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    busy_at: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for meeting in tm.candidates.meetings:
        if not meeting.impossible:
            for person in meeting.participants:
                held_by[person].append(tm.held[meeting.index])
    for (_, t), var in tm.at.items():
        at_slot[t].append(var)
    for person, busy in busy_of.items():
        model.add(sum(busy.values()) == sum(held_by[person]))
        for t, literal in busy.items():
            busy_at[t].append(literal)
    for t, literals in busy_at.items():
        model.add(sum(literals) == 2 * sum(at_slot[t]))


def _has_meeting(model: cp_model.CpModel, tm: TimetableModel, person: str) -> cp_model.IntVar:
    held = [
        tm.held[m.index]
        for m in tm.candidates.meetings
        if not m.impossible and person in m.participants
    ]
    has = model.new_bool_var(f"has_meeting[{person}]")
    model.add_max_equality(has, held)
    return has


def cap_break_difference(
    model: cp_model.CpModel,
    breaks: dict[str, cp_model.LinearExprT],
    has_meeting: dict[str, cp_model.IntVar],
    max_difference: int,
    horizon: int,
) -> None:
    """No participant with a meeting has more than `max_difference` breaks above the fewest.

    Participants whose possible meetings fit no break (one meeting a day at most) have zero
    breaks; they count for the fewest when they meet at all.
    """
    fewest = model.new_int_var(0, horizon, "fewest_breaks")
    for person, count in breaks.items():
        model.add(count <= fewest + max_difference)
        model.add(fewest <= count).only_enforce_if(has_meeting[person])
