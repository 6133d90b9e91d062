"""Lower bounds on breaks from each participant alone.

When a participant's meetings are all certain to be held (required wishes, as in the B2B
benchmark), the fewest breaks it can have is decided by its own meetings' possible slots: a
tiny problem with one participant. The sum over participants bounds the total from below, and
each participant's own bound is a valid cut in the full model. Most participants can meet in
one block, which a window-and-matching check shows without any solver.

When every meeting of the event must be held, `slot_counting_bound` adds what the participants
force on each other through slot capacity: a full slot leaves participants idle, and idle in the
middle of their day means a break (on the B2B benchmark it raises tic-13crafc from 0 to its
optimum 4 and forumt-14crafe from 4 to its optimum 5).
"""

from __future__ import annotations

import math

from ortools.sat.python import cp_model

from solver.candidates import Candidate
from solver.problem import Problem, slots_by_day
from solver.runs import busy_literal, day_runs


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
    days = slots_by_day(problem)
    if len(meetings) < 2 or (len(days) == 1 and _fits_one_block(meetings, len(problem.slots))):
        return 0
    return _solve_alone(problem, meetings, days, time_limit)


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
    busy: dict[int, cp_model.IntVar] = {}
    for t in range(len(problem.slots)):
        here = [at[i, t] for i in range(len(meetings)) if (i, t) in at]
        if here:
            busy[t] = busy_literal(model, here)
    runs_minus_days = [
        day_runs(model, [busy.get(t) for t in day]).breaks
        for day in days
        if any(t in busy for t in day)
    ]
    model.minimize(sum(runs_minus_days))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return 0
    return max(round(solver.best_objective_bound), 0)


#: The slot-counting bound gives up (bound 0) above this many busy patterns in total (the
#: 22-slot B2B instances have 10^5 and more; the 10-slot ones 700 to 10^4).
SLOT_COUNTING_PATTERNS = 40_000


def slot_counting_bound(
    problem: Problem,
    meetings: list[Candidate],
    capacity: dict[str, int],
    max_difference: int | None,
    known: int = 0,
    work_limit: float = 1.0,
) -> int:
    """A lower bound on total breaks from slot capacity, when every meeting in `meetings` must
    be held and there are no others (`solver.retime.fixed_meeting_set`).

    Relaxation (the pairs are forgotten, only each participant's *busy pattern* — the set of
    slots it meets in — is kept): every schedule gives each participant p with k_p meetings a
    pattern of k_p slots into which its own meetings can be matched one per slot; the number of
    participants busy in slot t is exactly twice the meetings held in t (each meeting has two
    participants), so it is even and at most 2·(meetings a slot can hold); and p's breaks are a
    function of its pattern alone (runs per day, minus one per day it meets). So the fewest
    total breaks over all pattern choices that meet these per-slot counts is ≤ the breaks of
    every schedule. Participants with the same meetings' slot sets are interchangeable here, so
    the model counts how many of each kind take each pattern (which removes the symmetry that
    makes a per-participant model hopeless on the B2B crafted instances).

    Fairness cap d: a schedule with fewer total breaks than the n participants that meet gives
    one of them no break, so the fewest is 0 and everyone has at most d; patterns with more are
    left out, and the bound is min(optimum of the relaxation, n), which is then sound whatever
    the schedule. Meetings per slot are capped by the sum of all location classes' capacities
    (an over-estimate when host locations are part of the onsite pool: still sound).
    `known` is a lower bound proven otherwise (the search stops when it reaches it); the result
    is never below it, and is `known` when the patterns are too many to list or the small solve
    proves nothing more.
    """
    of_person: dict[str, list[Candidate]] = {}
    for meeting in meetings:
        for person in meeting.participants:
            of_person.setdefault(person, []).append(meeting)
    if not of_person or any(not m.slots for m in meetings):
        return known  # nothing to count, or no schedule at all (reported elsewhere)
    # Slots in day order, and for each the slot just before it on its day (breaks.py's order).
    days = slots_by_day(problem)
    before: dict[int, tuple[int, int | None]] = {}
    for number, day in enumerate(days):
        for rank, t in enumerate(day):
            before[t] = (number, day[rank - 1] if rank else None)
    order = [t for day in days for t in day]
    most = max_difference if max_difference is not None else len(problem.slots)
    kinds: dict[tuple[tuple[int, ...], ...], int] = {}
    for own in of_person.values():
        key = tuple(sorted(m.slots for m in own))
        kinds[key] = kinds.get(key, 0) + 1
    allowed = {key: [t for t in order if any(t in d for d in key)] for key in kinds}
    counted = sum(_count_patterns(allowed[key], before, len(key), most) for key in kinds)
    if counted > SLOT_COUNTING_PATTERNS:
        return known
    listed = [(count, _patterns(key, allowed[key], before, most)) for key, count in kinds.items()]

    model = cp_model.CpModel()
    per_slot: dict[int, list[cp_model.IntVar]] = {}
    total: list[cp_model.LinearExprT] = []
    for count, patterns in listed:
        chosen = []
        for slots, breaks in patterns:
            taking = model.new_int_var(0, count, "")
            chosen.append(taking)
            for t in slots:
                per_slot.setdefault(t, []).append(taking)
            if breaks:
                total.append(breaks * taking)
        model.add(sum(chosen) == count)
    held_at_once = sum(capacity.values())
    for here in per_slot.values():
        meetings_here = model.new_int_var(0, held_at_once, "")
        model.add(sum(here) == 2 * meetings_here)
    # What is known already (each participant alone): the search stops when it reaches it.
    model.add(sum(total) >= known)
    model.minimize(sum(total))
    solver = cp_model.CpSolver()
    # One worker and a deterministic limit (about a second of an idle core): the same bound
    # every run, whatever the load. An integer program: the stronger LP proves forumt-14crafe's
    # bound 5 in 0.7 units of work (0.7 s), about half of what the default LP needs.
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = work_limit
    solver.parameters.linearization_level = 2
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return max(len(of_person), known)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return known
    return max(min(math.ceil(solver.best_objective_bound - 1e-6), len(of_person)), known)


def _patterns(
    domains: tuple[tuple[int, ...], ...],
    allowed: list[int],
    before: dict[int, tuple[int, int | None]],
    most: int,
) -> list[tuple[tuple[int, ...], int]]:
    """Every busy pattern of a participant whose meetings have these slot sets, with at most
    `most` breaks and room for its meetings one per slot, as (slots, breaks). `allowed` lists
    the slots its meetings may use, day by day; `before[t]` is (t's day number, the slot just
    before t on that day or None)."""
    size = len(domains)
    same = all(d == domains[0] for d in domains)
    found: list[tuple[tuple[int, ...], int]] = []
    chosen: list[int] = []

    def extend(i: int, breaks: int, met_today: bool, in_run: bool) -> None:
        if len(chosen) == size:
            if same or _perfect_matching([set(d).intersection(chosen) for d in domains]):
                found.append((tuple(chosen), breaks))
            return
        if len(allowed) - i < size - len(chosen):
            return
        t = allowed[i]
        day, previous = before[t]
        if i == 0 or before[allowed[i - 1]][0] != day:  # first possible slot of its day
            met_today, in_run = False, False
        elif allowed[i - 1] != previous:  # the slot just before it is not a possible one
            in_run = False
        more = 1 if met_today and not in_run else 0
        if breaks + more <= most:
            chosen.append(t)
            extend(i + 1, breaks + more, True, True)
            chosen.pop()
        extend(i + 1, breaks, met_today, False)

    extend(0, 0, False, False)
    return found


def _count_patterns(
    allowed: list[int], before: dict[int, tuple[int, int | None]], size: int, most: int
) -> int:
    """How many sets of `size` slots from `allowed` have at most `most` breaks (the matching
    check left out): an upper bound on `_patterns`, counted without listing them."""
    # (chosen, breaks, met today, in a run) -> number of ways, slot by slot.
    ways: dict[tuple[int, int, bool, bool], int] = {(0, 0, False, False): 1}
    for i, t in enumerate(allowed):
        day, previous = before[t]
        new_day = i == 0 or before[allowed[i - 1]][0] != day
        gap = not new_day and allowed[i - 1] != previous
        after: dict[tuple[int, int, bool, bool], int] = {}
        for (chosen, breaks, met_today, in_run), n in ways.items():
            if new_day:
                met_today, in_run = False, False
            elif gap:
                in_run = False
            skip = (chosen, breaks, met_today, False)
            after[skip] = after.get(skip, 0) + n
            more = 1 if met_today and not in_run else 0
            if chosen < size and breaks + more <= most:
                take = (chosen + 1, breaks + more, True, True)
                after[take] = after.get(take, 0) + n
        ways = after
    return sum(n for (chosen, _, _, _), n in ways.items() if chosen == size)
