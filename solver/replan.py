"""The start of a re-plan: the published meetings that can still be held, as a schedule.

A re-plan (`Problem.published` not empty) starts from this schedule instead of from nothing:
it is the first solution CP-SAT is given, the answer if the search finds nothing better in
time, and the level no goal ranked above `stability` may fall below (see `solver/solve.py`).

A published meeting is kept when its two participants, its slot and its location still
exist and at least one of its wishes is still accepted and still allowed there (session,
fixed slot, availability, online and host rules). It keeps those wishes only. Meetings are
then taken in their published order while they keep every rule of the event as it is now
(one meeting per participant and slot, caps, location capacity, `after` order, one meeting per
pair, the break difference); a meeting that would break one is left out, and the search may
hold its wishes elsewhere.
"""

from __future__ import annotations

from dataclasses import replace

from solver.check import EventIndex, check, meeting_kind
from solver.explain import Timetable
from solver.problem import Meeting, Problem, Solution, Unscheduled, wish_weights
from solver.report import measure_objective


def filled(problem: Problem, kept: list[Meeting]) -> list[Meeting]:
    """`kept`, then the accepted wishes it does not meet placed first come first served where
    they fit as it stands (`solver.greedy`), the heaviest first: a wish sent or accepted since
    the publication, or a proposal both sides accepted, so that a re-plan starts from a
    schedule that already holds what fits in the free slots (the search may still do better,
    and never worse on the goals above `stability`)."""
    from solver.greedy import _place

    index = EventIndex(problem)
    table = Timetable(index, kept)
    met = {w for m in kept for w in m.wishes}
    weight = wish_weights(problem.wishes)
    for wish in sorted((w for w in problem.wishes if w.id not in met), key=lambda w: -weight[w.id]):
        _place(index, table, wish)
    meetings = list(table.meetings)
    return meetings if not check(problem, as_solution(problem, meetings)).violations else kept


def kept_published(problem: Problem) -> list[Meeting]:
    """The published meetings of `problem` that the event as it is now still allows."""
    index = EventIndex(problem)
    table = Timetable(index)
    for old in problem.published:
        meeting = _still_possible(index, old)
        if meeting is not None and _fits(table, meeting):
            table.add(meeting)
    kept = list(table.meetings)
    if not check(problem, as_solution(problem, kept)).violations:
        return kept
    # A rule the incremental test does not see (none known): keep what passes the checker.
    accepted: list[Meeting] = []
    for meeting in kept:
        if not check(problem, as_solution(problem, [*accepted, meeting])).violations:
            accepted.append(meeting)
    return accepted


def as_solution(problem: Problem, meetings: list[Meeting]) -> Solution:
    """`meetings` as a solution the checker accepts (unmet wishes listed, goals measured)."""
    met = {w for m in meetings for w in m.wishes}
    return Solution(
        status="feasible",
        objective=measure_objective(problem, meetings),
        meetings=meetings,
        unscheduled=[
            Unscheduled(w.id, "not_solved", "Not in the published schedule.")
            for w in problem.wishes
            if w.id not in met
        ],
    )


def _still_possible(index: EventIndex, old: Meeting) -> Meeting | None:
    """`old` with only the wishes it can still meet, or None when it cannot be held at all."""
    if old.slot not in index.slots or old.location not in index.locations:
        return None
    a, b = old.participants
    if a not in index.participants or b not in index.participants or a == b:
        return None
    if old.slot in index.participants[a].unavailable | index.participants[b].unavailable:
        return None
    if not index.suitable_location(index.locations[old.location], a, b):
        return None
    pair = {a, b}
    wishes = []
    for key in old.wishes:
        wish = index.wishes.get(key)
        if wish is None or wish.sender not in pair:
            continue
        (other,) = pair - {wish.sender}
        if other in index.candidates(wish) and old.slot in index.allowed_slots(wish):
            wishes.append(wish)
    separate = [w for w in wishes if w.separate]
    if separate:
        wishes = separate[:1]  # a separate wish has a meeting of its own
    if not wishes:
        return None
    sender = wishes[0].sender
    participants = (sender, b if sender == a else a)
    first, second = (index.participants[p] for p in participants)
    return replace(
        old,
        wishes=tuple(w.id for w in wishes),
        participants=participants,
        kind=meeting_kind(first, second),
    )


def _fits(table: Timetable, meeting: Meeting) -> bool:
    index = table.index
    a, b = meeting.participants
    if table.busy_with(a, meeting.slot) or table.busy_with(b, meeting.slot):
        return False
    if table.at_cap(a) or table.at_cap(b) or table.event_full():
        return False
    location = index.locations[meeting.location]
    if table.used[(meeting.slot, meeting.location)] >= location.capacity:
        return False
    wishes = [index.wishes[w] for w in meeting.wishes]
    if any(w.id in table.slot_of for w in wishes):
        return False
    if not all(table.order_allows(w, meeting.slot) for w in wishes):
        return False
    if not wishes[0].separate and frozenset(meeting.participants) in table.shared:
        return False
    return table.breaks_allow(a, b, meeting.slot)
