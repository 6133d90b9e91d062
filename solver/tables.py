"""Concrete tables, rooms and video rooms for meetings whose slots are chosen.

The model only counts meetings per location class and slot, which is exact: within a class any
free location will do. So after the slot choice each slot's meetings are dealt out to the
locations of their class, giving a re-planned meeting its published location first so that
kept meetings stay where participants expect them.
"""

from __future__ import annotations

from collections import defaultdict

from solver.candidates import HOST_PREFIX, ONLINE, ONSITE
from solver.problem import Problem


def locations_by_class(problem: Problem) -> dict[str, list[tuple[str, int]]]:
    """Location class -> [(location id, capacity)], in the problem's order."""
    hosts = {p.host_location for p in problem.participants if p.host_location}
    classes: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for location in problem.locations:
        if location.id in hosts:
            where = HOST_PREFIX + location.id
        elif location.kind == "online":
            where = ONLINE
        else:
            where = ONSITE
        classes[where].append((location.id, location.capacity))
    return classes


def assign_locations(
    problem: Problem,
    placed: list[tuple[int, int, str]],
    preferred: dict[int, str] | None = None,
) -> dict[int, str]:
    """Location id for each placed meeting.

    `placed` holds (meeting key, slot index, location class); `preferred` maps a meeting key to
    the location it had in the published schedule. Raises ValueError if a class is over
    capacity in a slot (the model forbids that, so it means a bug upstream).
    """
    preferred = preferred or {}
    classes = locations_by_class(problem)
    by_slot_class: dict[tuple[int, str], list[int]] = defaultdict(list)
    where_of = {}
    for key, slot, where in placed:
        by_slot_class[slot, where].append(key)
        where_of[key] = where
    assigned: dict[int, str] = {}
    for (slot, where), keys in by_slot_class.items():
        free = {loc: cap for loc, cap in classes.get(where, [])}
        # Published locations first, so kept meetings keep their table.
        for key in sorted(keys, key=lambda k: k not in preferred):
            wanted = preferred.get(key)
            if wanted is not None and free.get(wanted, 0) > 0:
                location = wanted
            else:
                location = next((loc for loc, cap in free.items() if cap > 0), "")
            if not location:
                raise ValueError(f"location class {where} over capacity in slot {slot}")
            free[location] -= 1
            assigned[key] = location
    return assigned
