"""The baseline booking platforms use: first come, first served, never optimised.

Wishes are taken in request order (the order of `Problem.wishes`); each goes to the earliest
slot where both sides are free and a suitable location is free, keeping every hard rule. Used
only to compare with the optimiser in tests and benchmarks.
"""

from __future__ import annotations

import time

from solver.check import EventIndex, evaluate, meeting_kind
from solver.explain import Timetable, explain_unscheduled, static_slots
from solver.problem import Meeting, Problem, Solution, Wish


def greedy(problem: Problem) -> Solution:
    started = time.perf_counter()
    index = EventIndex(problem)
    table = Timetable(index)
    for wish in problem.wishes:
        _place(index, table, wish)
    meetings = table.meetings
    met = {w for m in meetings for w in m.wishes}
    unmet_required = any(w.required and w.id not in met for w in problem.wishes)
    return Solution(
        # First come, first served proves nothing: an unmet required wish only says that
        # this order could not hold it.
        status="infeasible" if unmet_required else "feasible",
        objective=evaluate(problem, meetings),
        solve_seconds=time.perf_counter() - started,
        meetings=list(meetings),
        unscheduled=explain_unscheduled(problem, meetings),
    )


def _place(index: EventIndex, table: Timetable, wish: Wish) -> None:
    if not wish.separate and _join_existing(index, table, wish):
        return
    if table.at_cap(wish.sender) or table.event_full():
        return
    best: tuple[int, str, str, str] | None = None
    for partner in index.candidates(wish):
        if table.at_cap(partner) or _pair_meets(table, wish, partner):
            continue
        for slot in static_slots(index, wish, partner):
            position = index.slot_position[slot]
            if best is not None and position >= best[0]:
                break
            location = _free_place(table, wish, partner, slot)
            if location is not None:
                best = (position, slot, partner, location)
                break
    if best is not None:
        _, slot, partner, location = best
        first, second = (index.participants[p] for p in (wish.sender, partner))
        table.add(
            Meeting((wish.id,), slot, location, (wish.sender, partner), meeting_kind(first, second))
        )


def _free_place(table: Timetable, wish: Wish, partner: str, slot: str) -> str | None:
    if table.busy_with(wish.sender, slot) or table.busy_with(partner, slot):
        return None
    if not table.order_allows(wish, slot) or not table.breaks_allow(wish.sender, partner, slot):
        return None
    return table.free_location(slot, wish.sender, partner)


def _pair_meets(table: Timetable, wish: Wish, partner: str) -> bool:
    return not wish.separate and frozenset((wish.sender, partner)) in table.shared


def _join_existing(index: EventIndex, table: Timetable, wish: Wish) -> bool:
    """A wish between two participants who already meet joins that meeting when it fits."""
    for partner in index.candidates(wish):
        i = table.shared.get(frozenset((wish.sender, partner)))
        if i is None:
            continue
        slot = table.meetings[i].slot
        if slot in index.allowed_slots(wish) and table.order_allows(wish, slot):
            table.join(i, wish.id)
            return True
    return False
