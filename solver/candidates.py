"""Candidate meetings: which meetings could be held, where, and in which slots.

Every accepted wish becomes one or more candidate meetings before any variable is made, so the
CP-SAT model only holds variables for feasible (meeting, slot) pairs:

* Wishes between the same two participants share ONE candidate (a mutual wish is one meeting),
  unless a wish is `separate`, which gets a candidate of its own.
* A wish to an organisation may be met by any one of its representatives: it becomes an
  *optional* wish of the pair candidate (sender, representative) of each representative, and the
  model picks at most one of them.
* Each candidate belongs to a location class (online pool, onsite pool, or one host location);
  tables in a class are interchangeable, so the model only counts meetings per class and slot
  (host meetings also count in the onsite pool) and concrete tables are assigned afterwards
  (see `solver/tables.py`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from solver.problem import Participant, Problem, Wish, same_delegation

ONLINE = "online"
ONSITE = "onsite"
HOST_PREFIX = "host:"


@dataclass(slots=True)
class Candidate:
    """A meeting that may be held between two participants."""

    index: int
    #: (sender of the first wish, the other participant).
    participants: tuple[str, str]
    #: Wishes met whenever this meeting is held.
    direct: list[str] = field(default_factory=list)
    #: Wishes to an organisation this meeting may meet (the model decides).
    optional: list[str] = field(default_factory=list)
    location_class: str = ONSITE
    #: Indices into `Problem.slots` in which the meeting may be held.
    slots: tuple[int, ...] = ()
    #: Why it has no slot at all (for the unscheduled list), if so.
    impossible: str | None = None


@dataclass(slots=True)
class Candidates:
    meetings: list[Candidate]
    #: Location class -> meetings it holds at once.
    capacity: dict[str, int]
    #: Wish id -> candidate meetings that could meet it.
    by_wish: dict[str, list[int]]
    #: Wish id -> slot indices its own rules (session, fixed slot) allow.
    wish_slots: dict[str, frozenset[int]]


def location_capacities(problem: Problem) -> dict[str, int]:
    """Meetings each location class holds at once.

    `onsite` counts every table and room, host locations included: a host's meetings must be
    at its location, but when the host is not meeting there, others may use it. A host class
    counts its own location; the model caps both, which is exact (a meeting without a host
    location fits any free table or room).
    """
    capacity: dict[str, int] = {ONLINE: 0, ONSITE: 0}
    kinds = {location.id: location.kind for location in problem.locations}
    for location in problem.locations:
        capacity[ONLINE if location.kind == "online" else ONSITE] += location.capacity
    for person in problem.participants:
        where = person.host_location
        if where is not None:
            onsite = kinds.get(where, "online") != "online"
            capacity[HOST_PREFIX + where] = next(
                (loc.capacity for loc in problem.locations if loc.id == where and onsite), 0
            )
    return capacity


def location_class(a: Participant, b: Participant) -> str | None:
    """Where two participants meet, or None when their host locations differ."""
    if a.online or b.online:
        return ONLINE
    hosts = {p.host_location for p in (a, b) if p.host_location}
    if len(hosts) > 1:
        return None
    return HOST_PREFIX + hosts.pop() if hosts else ONSITE


def slots_allowed_by_wish(problem: Problem, wish: Wish) -> frozenset[int]:
    return frozenset(
        i
        for i, slot in enumerate(problem.slots)
        if (wish.session is None or slot.session == wish.session)
        and (wish.fixed_slot is None or slot.id == wish.fixed_slot)
    )


def build_candidates(problem: Problem) -> Candidates:
    people = {p.id: p for p in problem.participants}
    representatives: dict[str, list[str]] = defaultdict(list)
    for p in problem.participants:
        if p.represents_organisation:
            representatives[p.organisation].append(p.id)
    wish_slots = {w.id: slots_allowed_by_wish(problem, w) for w in problem.wishes}

    meetings: list[Candidate] = []
    pair_meeting: dict[frozenset[str], Candidate] = {}
    by_wish: dict[str, list[int]] = defaultdict(list)

    def new_meeting(sender: str, other: str) -> Candidate:
        meeting = Candidate(index=len(meetings), participants=(sender, other))
        meetings.append(meeting)
        return meeting

    def shared_meeting(sender: str, other: str) -> Candidate:
        key = frozenset((sender, other))
        if key not in pair_meeting:
            pair_meeting[key] = new_meeting(sender, other)
        return pair_meeting[key]

    for wish in problem.wishes:
        if wish.recipient is not None:
            meeting = (
                new_meeting(wish.sender, wish.recipient)
                if wish.separate
                else shared_meeting(wish.sender, wish.recipient)
            )
            meeting.direct.append(wish.id)
            by_wish[wish.id].append(meeting.index)
            continue
        for rep in representatives.get(wish.recipient_organisation or "", []):
            if rep == wish.sender:
                continue
            meeting = (
                new_meeting(wish.sender, rep) if wish.separate else shared_meeting(wish.sender, rep)
            )
            meeting.optional.append(wish.id)
            by_wish[wish.id].append(meeting.index)

    capacity = location_capacities(problem)
    for meeting in meetings:
        _restrict_slots(problem, meeting, people, capacity, wish_slots)
    return Candidates(meetings, capacity, dict(by_wish), wish_slots)


def _restrict_slots(
    problem: Problem,
    meeting: Candidate,
    people: dict[str, Participant],
    capacity: dict[str, int],
    wish_slots: dict[str, frozenset[int]],
) -> None:
    a, b = (people[p] for p in meeting.participants)
    if same_delegation(problem, a, b):
        meeting.impossible = "same_delegation"
        return
    where = location_class(a, b)
    if where is None:
        meeting.impossible = "host_location_conflict"
        return
    meeting.location_class = where
    if capacity.get(where, 0) == 0:
        meeting.impossible = "no_location"
        return
    allowed = {
        i
        for i, slot in enumerate(problem.slots)
        if slot.id not in a.unavailable and slot.id not in b.unavailable
    }
    if not allowed:
        meeting.impossible = "no_common_slot"
        return
    # Held in a slot that suits at least one of its wishes; the model decides which it meets.
    allowed &= set().union(*(wish_slots[w] for w in meeting.direct + meeting.optional))
    if not allowed:
        meeting.impossible = "wish_rules"
        return
    meeting.slots = tuple(sorted(allowed))
