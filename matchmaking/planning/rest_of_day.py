"""The re-plan of the rest of the day: what is past stays, who is away gets no meeting.

On the event day the organiser re-plans from a moment T (now, or a chosen time) without the
people who are away (`Absence` rows: not come, or left early). `rest_of_day_problem` turns the
re-plan's problem (the event as read, with the published version as `published`) into the
problem the solver works on:

- the published meetings of slots that begin before T are frozen: their wishes are required
  in their slot, where they were (`pinned_problem`, as pins of a hand-edited version), even
  when none of their wishes is accepted any more or their slot was marked unavailable since
  (what was held stays held);
- nobody gets a new meeting in a slot that begins before T;
- a participant away from A has no meeting in a slot that begins at or after T and ends
  after A, and their wishes are no longer required (they cannot be held);
- everything else is an ordinary re-plan: the stability goal keeps the other published
  meetings where they are unless moving them meets more wishes, and wishes that were not met
  may take the slots freed.

The version records the event as read (its fingerprints judge staleness later), not this
stricter copy, as `resolve_around_pins` does.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.platform.models import Absence, Event, Participant, Slot
from solver import problem as sp


def pinned_problem(
    problem: sp.Problem, meetings: list[sp.Meeting], pins: list[sp.Meeting]
) -> sp.Problem:
    """`problem` with the pinned meetings fixed: their wishes are required in their slot, the
    version's meetings are the `published` schedule the stability goal keeps (a kept meeting
    gets its location back, see solver/tables.py), and a host who is not in a pinned meeting
    held at their full host location is not available then (their meeting would take it)."""
    wishes = {w.id: w for w in problem.wishes}
    for pin in pins:
        for key in pin.wishes:
            if key in wishes:
                wishes[key] = dataclasses.replace(
                    wishes[key], required=True, fixed_slot=pin.slot, session=None
                )
    capacity = {loc.id: loc.capacity for loc in problem.locations}
    used = Counter((pin.slot, pin.location) for pin in pins)
    blocked: dict[str, set[str]] = {}
    for p in problem.participants:
        if p.host_location is None:
            continue
        for (slot, location), n in used.items():
            mine = any(p.id in pin.participants for pin in pins if pin.slot == slot)
            if location == p.host_location and n >= capacity.get(location, 1) and not mine:
                blocked.setdefault(p.id, set()).add(slot)
    participants = tuple(
        dataclasses.replace(p, unavailable=p.unavailable | blocked[p.id]) if p.id in blocked else p
        for p in problem.participants
    )
    return dataclasses.replace(
        problem,
        wishes=tuple(wishes[w.id] for w in problem.wishes),
        participants=participants,
        published=tuple(meetings),
    )


def instant(moment: datetime) -> datetime:
    """`moment` as an aware UTC time (a naive one is UTC, as SQLite hands them back)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def wall_clock(event: Event, moment: datetime) -> datetime:
    """`moment` (aware, or naive UTC) as the event zone's wall clock, as slot times are."""
    return instant(moment).astimezone(ZoneInfo(event.timezone)).replace(tzinfo=None)


def _absences(session: Session, event: Event) -> dict[str, datetime]:
    """Participant key → since when they are away (the event zone's wall clock)."""
    return {
        key: wall_clock(event, absent_from)
        for key, absent_from in session.execute(
            select(Participant.key, Absence.absent_from)
            .join(Participant, Absence.participant_id == Participant.id)
            .where(Absence.event_id == event.id)
        )
    }


def away_slots(
    session: Session, event: Event, frozen_before: datetime | None = None
) -> dict[str, set[str]]:
    """Participant key → the slots (beginning at or after `frozen_before`; without it, every
    slot) they cannot take because they are away by the slot's end."""
    moment = wall_clock(event, frozen_before) if frozen_before is not None else None
    slots = session.execute(
        select(Slot.key, Slot.start, Slot.end).where(Slot.event_id == event.id)
    ).all()
    return {
        key: {s for s, start, end in slots if (moment is None or start >= moment) and end > since}
        for key, since in _absences(session, event).items()
    }


def gone_since(
    session: Session, event: Event, frozen_before: datetime | None = None
) -> dict[str, datetime]:
    """Those away in some slot (of the rest of the day, with `frozen_before`): key → since
    when (wall clock)."""
    away = away_slots(session, event, frozen_before)
    return {key: since for key, since in _absences(session, event).items() if away.get(key)}


def away_reasons(
    problem: sp.Problem, solution: sp.Solution, gone: dict[str, datetime]
) -> sp.Solution:
    """`solution` whose wishes left unmet because one side is away say so (`no_common_slot`:
    the two share no time any more), instead of the reason the search gave among the few
    slots left before they went."""
    if not gone:
        return solution
    sides = {w.id: (w.sender, w.recipient) for w in problem.wishes}

    def reason(item: sp.Unscheduled) -> sp.Unscheduled:
        away = [key for key in sides.get(item.wish, ()) if key in gone]
        if not away:
            return item
        since = gone[away[0]].strftime("%a %d %b %H:%M")
        return dataclasses.replace(
            item, reason="no_common_slot", detail=f"{away[0]} is away from {since}"
        )

    return dataclasses.replace(solution, unscheduled=[reason(u) for u in solution.unscheduled])


def without_who_left(
    session: Session, event: Event, problem: sp.Problem
) -> tuple[sp.Problem, dict[str, datetime]]:
    """A solve with no moment to keep (a first solve, or an ordinary re-plan) after people were
    marked away: each of them gets no slot that ends after they left, and a required wish with
    one of them is no longer required. Also the people gone: key → since when (wall clock)."""
    away = away_slots(session, event)
    if not any(away.values()):
        return problem, {}
    gone = gone_since(session, event)
    participants = tuple(
        dataclasses.replace(p, unavailable=p.unavailable | away[p.id]) if p.id in away else p
        for p in problem.participants
    )
    wishes = tuple(
        dataclasses.replace(w, required=False)
        if w.required and ({w.sender, w.recipient} & gone.keys())
        else w
        for w in problem.wishes
    )
    return dataclasses.replace(problem, participants=participants, wishes=wishes), gone


def _still_wished(problem: sp.Problem, frozen: list[sp.Meeting]) -> sp.Problem:
    """`problem` with a wish for each frozen meeting none of whose wishes it holds any more
    (declined, withdrawn or changed since the meeting was held): the solver keeps only the
    meetings of its wishes, and a meeting that was held stays held."""
    known = {w.id for w in problem.wishes}
    held = {
        m.wishes[0]: sp.Wish(id=m.wishes[0], sender=m.participants[0], recipient=m.participants[1])
        for m in frozen
        if m.wishes and not known.intersection(m.wishes)
    }
    return (
        dataclasses.replace(problem, wishes=(*problem.wishes, *held.values())) if held else problem
    )


def rest_of_day_problem(
    session: Session, event: Event, problem: sp.Problem, frozen_before: datetime
) -> sp.Problem:
    """The re-plan's `problem` for the rest of the day from `frozen_before` (see the module
    docstring); `problem.published` holds the published version's meetings."""
    moment = wall_clock(event, frozen_before)
    past = set(
        session.scalars(select(Slot.key).where(Slot.event_id == event.id, Slot.start < moment))
    )
    frozen = [m for m in problem.published if m.slot in past]
    pinned = pinned_problem(_still_wished(problem, frozen), list(problem.published), frozen)
    held = {(person, m.slot) for m in frozen for person in m.participants}
    frozen_wishes = {key for m in frozen for key in m.wishes}
    away = away_slots(session, event, frozen_before)
    participants = tuple(
        dataclasses.replace(
            p,
            unavailable=(
                p.unavailable
                | {slot for slot in past if (p.id, slot) not in held}
                | away.get(p.id, set())
            )
            - {slot for slot in past if (p.id, slot) in held},
        )
        for p in pinned.participants
    )
    gone = {key for key, slots in away.items() if slots}
    wishes = tuple(
        dataclasses.replace(w, required=False)
        if w.required and w.id not in frozen_wishes and ({w.sender, w.recipient} & gone)
        else w
        for w in pinned.wishes
    )
    return dataclasses.replace(pinned, participants=participants, wishes=wishes)
