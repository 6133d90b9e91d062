"""Door lists: who meets at one table or room during one session, to print and pin up
("Table 12, Morning 10:00–12:00: 10:00 Ana Silva (Cluster X) & Jon Berg (Firm Y), ...").

Made from the published version; video rooms have no door and no list. Each person says
whether they checked in, so the door keeper sees who is expected and not yet here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.onsite.attendance import published_meetings
from matchmaking.platform.errors import NotFound
from matchmaking.platform.models import (
    CheckIn,
    Event,
    EventSession,
    Location,
    LocationKind,
    Participant,
    Slot,
)


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    name: str
    organisation: str
    arrived: bool


@dataclass(frozen=True, slots=True)
class DoorRow:
    uid: str
    start: datetime
    end: datetime
    people: tuple[Person, Person]


@dataclass(slots=True)
class DoorList:
    location: str
    location_name: str
    session: str
    session_name: str
    #: The session's first start and last end (event time).
    start: datetime
    end: datetime
    rows: list[DoorRow] = field(default_factory=list)


def door_lists(
    session: Session, event: Event, *, location: str | None = None, block: str | None = None
) -> list[DoorList]:
    """The door lists of the published schedule by location then session, only of
    `location` and of session `block` when given (NotFound for keys the event lacks)."""
    locations = {
        loc.key: loc
        for loc in session.scalars(select(Location).where(Location.event_id == event.id))
    }
    sessions = {
        s.key: s
        for s in session.scalars(select(EventSession).where(EventSession.event_id == event.id))
    }
    if location is not None and location not in locations:
        raise NotFound(f"The event has no location '{location}'.", field="query.location")
    if block is not None and block not in sessions:
        raise NotFound(f"The event has no session '{block}'.", field="query.session")
    spans: dict[int, tuple[datetime, datetime]] = {}
    for slot in session.scalars(select(Slot).where(Slot.event_id == event.id)):
        first, last = spans.get(slot.session_id, (slot.start, slot.end))
        spans[slot.session_id] = (min(first, slot.start), max(last, slot.end))
    arrived = set(
        session.scalars(select(CheckIn.participant_id).where(CheckIn.event_id == event.id))
    )

    def person(p: Participant) -> Person:
        return Person(p.key, p.name, p.organisation.name, p.id in arrived)

    lists: dict[tuple[int, int], DoorList] = {}
    for m in published_meetings(session, event):
        loc, block_row = m.location, m.slot.session
        if loc.kind is LocationKind.online:
            continue
        if (location is not None and loc.key != location) or (
            block is not None and block_row.key != block
        ):
            continue
        span = spans[block_row.id]
        door = lists.setdefault(
            (loc.id, block_row.id),
            DoorList(loc.key, loc.name, block_row.key, block_row.name, span[0], span[1]),
        )
        door.rows.append(
            DoorRow(
                m.uid, m.slot.start, m.slot.end, (person(m.participant_a), person(m.participant_b))
            )
        )
    order = {loc.id: (loc.position, loc.id) for loc in locations.values()}
    positions = {s.id: (s.position, s.id) for s in sessions.values()}
    return [lists[k] for k in sorted(lists, key=lambda k: (order[k[0]], positions[k[1]]))]
