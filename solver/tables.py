"""Concrete tables, rooms and video rooms for meetings whose slots are chosen.

The model only counts meetings per location class and slot, which is exact: a host meeting
needs its host's location, any other onsite meeting any free table or room, an online one any
video room. So after the slot choice each slot's meetings are dealt out to the
locations of their class, giving a re-planned meeting its published location first so that
kept meetings stay where participants expect them.
"""

from __future__ import annotations

from collections import defaultdict

from solver.candidates import HOST_PREFIX, ONLINE
from solver.problem import Problem


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
