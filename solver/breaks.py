"""Break counting for the `breaks` goal.

A break of a participant is a maximal run of free slots between two of its meetings on the same
day (slots are consecutive when they are chronological neighbours on that day, so a lunch pause
between sessions is no break by itself, and different days never join).

Encoding, per participant and day: `busy[t]` (in a meeting at slot t) and
`starts[t] = busy[t] and not busy[t-1]` (a run of meetings starts at t). A participant's breaks
on a day are its runs minus one when it meets that day at all. The fairness cap `d` bounds the
breaks of every participant with a meeting by the fewest such breaks plus d (Bofill et al.,
JAIR 2022: fairness over the businesses that have meetings).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

if TYPE_CHECKING:
    from solver.model import TimetableModel


@dataclass
class BreakTerms:
    total: cp_model.LinearExprT
    #: participant id -> its number of breaks.
    per_participant: dict[str, cp_model.LinearExprT] = field(default_factory=dict)


def slots_by_day(tm: TimetableModel) -> list[list[int]]:
    days: dict[str, list[int]] = defaultdict(list)
    for i, slot in enumerate(tm.problem.slots):
        days[slot.day].append(i)
    return list(days.values())


def add_break_terms(tm: TimetableModel, max_difference: int | None) -> BreakTerms:
    model = tm.model
    per_participant: dict[str, cp_model.LinearExprT] = {}
    has_meeting: dict[str, cp_model.IntVar] = {}
    days = slots_by_day(tm)
    for person, by_slot in tm.busy_terms.items():
        busy = {t: _busy_literal(model, literals) for t, literals in by_slot.items()}
        count: list[cp_model.LinearExprT] = []
        meets_on: list[cp_model.IntVar] = []
        for day in days:
            day_busy = [(t, busy.get(t)) for t in day]
            if sum(1 for _, b in day_busy if b is not None) < 2:
                continue  # at most one possible meeting that day: never a break
            runs, meets_today = _runs_of_meetings(model, day_busy)
            count.append(sum(runs) - meets_today)
            meets_on.append(meets_today)
        has_meeting[person] = _has_meeting(model, tm, person)
        if not count:
            per_participant[person] = 0
            continue
        breaks = model.new_int_var(0, len(tm.problem.slots), f"breaks[{person}]")
        model.add(breaks == sum(count))
        per_participant[person] = breaks
    total = sum(per_participant.values())
    if max_difference is not None and per_participant:
        cap_break_difference(
            model, per_participant, has_meeting, max_difference, len(tm.problem.slots)
        )
    return BreakTerms(total, per_participant)


def _busy_literal(model: cp_model.CpModel, literals: list[cp_model.IntVar]) -> cp_model.IntVar:
    if len(literals) == 1:
        return literals[0]
    busy = model.new_bool_var("busy")
    model.add(sum(literals) == busy)
    return busy


def _runs_of_meetings(
    model: cp_model.CpModel, day_busy: list[tuple[int, cp_model.IntVar | None]]
) -> tuple[list[cp_model.IntVar], cp_model.IntVar]:
    """Literals for 'a run of meetings starts here' and 'meets at all' on one day."""
    starts: list[cp_model.IntVar] = []
    previous: cp_model.IntVar | None = None
    for _, busy in day_busy:
        if busy is not None:
            if previous is None:
                starts.append(busy)
            else:
                start = model.new_bool_var("start")
                model.add_bool_and([busy, previous.Not()]).only_enforce_if(start)
                model.add_bool_or([busy.Not(), previous, start])
                starts.append(start)
        previous = busy
    meets_today = model.new_bool_var("meets_today")
    model.add_max_equality(meets_today, [b for _, b in day_busy if b is not None])
    return starts, meets_today


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
