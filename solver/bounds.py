"""Lower bounds on breaks from each participant alone.

When a participant's meetings are all certain to be held (required wishes, as in the B2B
benchmark), the fewest breaks it can have is decided by its own meetings' possible slots: a
tiny problem with one participant. The sum over participants bounds the total from below, and
each participant's own bound is a valid cut in the full model. Most participants can meet in
one block, which a window-and-matching check shows without any solver.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from solver.candidates import Candidate
from solver.problem import Problem


def fixed_meetings_of(problem: Problem, meetings: list[Candidate]) -> dict[str, list[Candidate]]:
    """Participant -> its candidate meetings, for participants whose every candidate meeting
    must be held (each meets a required wish directly); others get no bound."""
    required = {w.id for w in problem.wishes if w.required}
    mine: dict[str, list[Candidate]] = {}
    unsure: set[str] = set()
    for meeting in meetings:
        certain = not meeting.impossible and any(w in required for w in meeting.direct)
        for person in meeting.participants:
            if certain:
                mine.setdefault(person, []).append(meeting)
            else:
                unsure.add(person)
    return {p: ms for p, ms in mine.items() if p not in unsure}


def least_breaks(problem: Problem, meetings: list[Candidate], time_limit: float = 2.0) -> int:
    """The fewest breaks one participant can have with exactly these meetings (a lower bound
    when the small solve does not finish)."""
    days: dict[str, list[int]] = {}
    for i, slot in enumerate(problem.slots):
        days.setdefault(slot.day, []).append(i)
    if len(meetings) < 2 or (len(days) == 1 and _fits_one_block(meetings, len(problem.slots))):
        return 0
    return _solve_alone(problem, meetings, list(days.values()), time_limit)


def _fits_one_block(meetings: list[Candidate], horizon: int) -> bool:
    """Whether some window of consecutive slots holds all meetings, one per slot."""
    return any(fits_block(meetings, first) for first in range(horizon - len(meetings) + 1))


def fits_block(meetings: list[Candidate], first: int) -> bool:
    """Whether the slots first, first+1, ... hold all meetings, one per slot."""
    window = range(first, first + len(meetings))
    return _perfect_matching([set(m.slots).intersection(window) for m in meetings])


def _perfect_matching(options: list[set[int]]) -> bool:
    """Every meeting gets its own slot from its options (augmenting paths; tiny sizes)."""
    owner: dict[int, int] = {}

    def place(i: int, seen: set[int]) -> bool:
        for slot in options[i]:
            if slot in seen:
                continue
            seen.add(slot)
            if slot not in owner or place(owner[slot], seen):
                owner[slot] = i
                return True
        return False

    return all(place(i, set()) for i in range(len(options)))


def _solve_alone(
    problem: Problem, meetings: list[Candidate], days: list[list[int]], time_limit: float
) -> int:
    model = cp_model.CpModel()
    at = {(i, t): model.new_bool_var("") for i, m in enumerate(meetings) for t in m.slots}
    for i, meeting in enumerate(meetings):
        model.add_exactly_one(at[i, t] for t in meeting.slots)
    busy = {}
    for t in range(len(problem.slots)):
        here = [at[i, t] for i in range(len(meetings)) if (i, t) in at]
        if here:
            busy[t] = model.new_bool_var("")
            model.add(sum(here) == busy[t])
    runs_minus_days = []
    for day in days:
        starts, previous = [], None
        for t in day:
            now = busy.get(t)
            if now is not None:
                start = model.new_bool_var("")
                model.add_bool_or([now.Not(), start] + ([previous] if previous is not None else []))
                starts.append(start)
            previous = now
        if starts:
            meets = model.new_bool_var("")
            model.add_max_equality(meets, [busy[t] for t in day if t in busy])
            runs_minus_days.append(sum(starts) - meets)
    model.minimize(sum(runs_minus_days))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return 0
    return max(round(solver.best_objective_bound), 0)
