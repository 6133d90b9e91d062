"""A participant's day as CP-SAT literals: busy in a slot, and runs of meetings.

Every model that counts breaks builds them here (the timetable model, solver/breaks.py; the
re-timing model, solver/retime.py; one participant alone, solver/bounds.py; the break limit of
the conflict finder, solver/explain/), so that all count a break the same way: a run is a
maximal stretch of busy slots that are neighbours on one day (`solver.problem.slots_by_day`),
and a participant's breaks on a day are its runs minus one when it meets that day at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model


def busy_literal(model: cp_model.CpModel, meetings: Sequence[cp_model.IntVar]) -> cp_model.IntVar:
    """True when the participant holds one of `meetings` (its meetings that may be held in one
    slot, at most one of them held): the meeting's own literal when there is one."""
    if len(meetings) == 1:
        return meetings[0]
    busy = model.new_bool_var("busy")
    model.add(sum(meetings) == busy)
    return busy


@dataclass(frozen=True, slots=True)
class DayRuns:
    #: One literal per slot that can be busy: a run of meetings starts there.
    starts: list[cp_model.IntVar]
    #: The participant meets on this day at all.
    meets_today: cp_model.IntVar

    @property
    def breaks(self) -> cp_model.LinearExprT:
        """Breaks on this day: runs minus one when the participant meets that day."""
        return sum(self.starts) - self.meets_today


def day_runs(model: cp_model.CpModel, day_busy: Sequence[cp_model.IntVar | None]) -> DayRuns:
    """Runs of meetings on one day as a flow: busy[t] - busy[t-1] = starts[t] - ends[t].

    `day_busy` lists the day's slots in order, None where the participant cannot meet (at
    least one is not None). The equality (rather than starts[t] >= busy[t] - busy[t-1]) makes
    one participant's busy pattern an interval-matrix system: with one run its LP relaxation is
    the hull of the blocks, and clause learning sees starts and ends both ways.
    """
    starts: list[cp_model.IntVar] = []
    ends: list[cp_model.IntVar] = []
    previous: cp_model.IntVar | None = None
    for now in [*day_busy, None]:
        change: list[cp_model.LinearExprT] = []
        if now is not None:
            start = model.new_bool_var("run_start")
            model.add_implication(start, now)
            starts.append(start)
            change += [now, -start]
        if previous is not None:
            end = model.new_bool_var("run_end")
            model.add_implication(end, previous)
            ends.append(end)
            change += [-previous, end]
        if now is not None and previous is not None:
            model.add_at_most_one([starts[-1], ends[-1]])
        if change:
            model.add(sum(change) == 0)
        previous = now
    meets_today = model.new_bool_var("meets_today")
    model.add(sum(starts) == sum(ends))
    model.add_max_equality(meets_today, [b for b in day_busy if b is not None])
    for start in starts:
        model.add_implication(start, meets_today)
    return DayRuns(starts, meets_today)


def break_starts(
    model: cp_model.CpModel, day_busy: Sequence[cp_model.IntVar | None]
) -> list[cp_model.IntVar]:
    """One literal per slot of the day where a break begins: busy in the slot before, free in
    this one, meeting again later that day. Each break begins exactly once, so their number is
    the day's breaks (as `day_runs` counts them), here as plain clauses.

    `later[i]` ("meets in slot i or after it") is a chain of literals; a break begins at i
    exactly when busy[i-1], not busy[i] and later[i+1]. This is the MaxSAT encoding's view of
    a break (benchmarks/b2b_maxsat.py); a totalizer over these literals (solver/totalizer.py)
    gives clause learning a count of breaks it can reason about slot by slot.
    """
    n = len(day_busy)
    later: list[cp_model.IntVar | None] = [None] * (n + 1)  # None: never
    for i in range(n - 1, -1, -1):
        here, after = day_busy[i], later[i + 1]
        if here is None or after is None:
            later[i] = here if after is None else after
            continue
        either = model.new_bool_var("meets_later")
        model.add_bool_or([either.Not(), here, after])
        model.add_implication(here, either)
        model.add_implication(after, either)
        later[i] = either
    starts = []
    for i in range(1, n):
        before, here, after = day_busy[i - 1], day_busy[i], later[i + 1]
        if before is None or after is None:
            continue  # not busy just before, or nothing follows: no break begins here
        start = model.new_bool_var("break_start")
        model.add_implication(start, before)
        model.add_implication(start, after)
        if here is None:
            model.add_bool_or([start, before.Not(), after.Not()])
        else:
            model.add_implication(start, here.Not())
            model.add_bool_or([start, before.Not(), here, after.Not()])
        starts.append(start)
    return starts
