"""Concrete tables, rooms and video rooms for meetings whose slots are chosen.

The model only counts meetings per location class and slot, which is exact: a host meeting
needs its host's location, any other onsite meeting any free table or room, an online one any
video room. So after the slot choice each slot's meetings are dealt out to the
locations of their class, giving a re-planned meeting its published location first so that
kept meetings stay where participants expect them.
"""

from __future__ import annotations

from collections import defaultdict

from solver.candidates import HOST_PREFIX, ONLINE, Candidates
from solver.problem import Meeting, Problem
from solver.report import meeting_kind


def placed_meetings(
    problem: Problem,
    candidates: Candidates,
    chosen: list[tuple[int, int, list[str]]],
    preferred: dict[int, str] | None = None,
) -> list[Meeting]:
    """The schedule's meetings from (candidate meeting, slot index, wishes it meets): each gets
    a location (`assign_locations`), the sender of its first wish (in request order) comes
    first, and meetings are listed by slot, then by their first wish."""
    order = {w.id: i for i, w in enumerate(problem.wishes)}
    sender = {w.id: w.sender for w in problem.wishes}
    people = {p.id: p for p in problem.participants}
    ranked = [(m, t, sorted(wishes, key=order.__getitem__)) for m, t, wishes in chosen]
    placed = [(m, t, candidates.meetings[m].location_class) for m, t, _ in ranked]
    locations = assign_locations(problem, placed, preferred)
    meetings = []
    for m, t, wishes in sorted(ranked, key=lambda c: (c[1], order[c[2][0]])):
        first = sender[wishes[0]]
        pair = candidates.meetings[m].participants
        other = pair[1] if pair[0] == first else pair[0]
        meetings.append(
            Meeting(
                wishes=tuple(wishes),
                slot=problem.slots[t].id,
                location=locations[m],
                participants=(first, other),
                kind=meeting_kind(people[first], people[other]),
            )
        )
    return meetings


def assign_locations(
    problem: Problem,
    placed: list[tuple[int, int, str]],
    preferred: dict[int, str] | None = None,
) -> dict[int, str]:
    """Location id for each placed meeting.

    `placed` holds (meeting key, slot index, location class); `preferred` maps a meeting key to
    the location it had in the published schedule. Host meetings are seated first (they have
    one place only), then the others in any free table or room. Raises ValueError when a slot
    is over capacity (the model forbids that, so it means a bug upstream).
    """
    preferred = preferred or {}
    by_slot: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for key, slot, where in placed:
        by_slot[slot].append((key, where))
    assigned: dict[int, str] = {}
    for slot, meetings in by_slot.items():
        free = {location.id: location.capacity for location in problem.locations}
        # Host meetings first, then published places, so kept meetings keep their table.
        order = sorted(
            meetings, key=lambda m: (not m[1].startswith(HOST_PREFIX), m[0] not in preferred)
        )
        for key, where in order:
            location = _free_location(problem, free, where, preferred.get(key))
            if location is None:
                raise ValueError(f"no free location of class {where} in slot {slot}")
            free[location] -= 1
            assigned[key] = location
    return assigned


def _free_location(
    problem: Problem, free: dict[str, int], where: str, wanted: str | None
) -> str | None:
    if where.startswith(HOST_PREFIX):
        options = [where.removeprefix(HOST_PREFIX)]
    else:
        online = where == ONLINE
        options = [loc.id for loc in problem.locations if (loc.kind == "online") == online]
    if wanted in options and free.get(wanted, 0) > 0:
        return wanted
    return next((loc for loc in options if free.get(loc, 0) > 0), None)
