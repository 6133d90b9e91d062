"""Events: lookup, roles, lifecycle, the time grid (sessions and slots), locations, rules.

Services flush and leave the commit to the caller (one request, one transaction). Errors are
`matchmaking.platform.errors` exceptions naming the input field at fault in the API's dotted form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ExecutableOption

from matchmaking.organising.event_checks import (
    Problem,
    check_event,
    check_generation,
    check_location,
    check_name,
    check_slot_times,
    refuse,
)
from matchmaking.organising.organisers import find_organiser
from matchmaking.organising.timegrid import TimeGridError, check_event_slots
from matchmaking.platform.errors import Conflict, Invalid, NotFound
from matchmaking.platform.models import (
    Event,
    EventRole,
    EventRoleName,
    EventSession,
    EventStatus,
    Location,
    LocationKind,
    Meeting,
    Organisation,
    Organiser,
    Participant,
    Slot,
    Wish,
    WishStatus,
    as_utc,
    utcnow,
)

# --- lookup and roles ------------------------------------------------------------------------

#: The rows an event names by a key of its own.
Keyed = TypeVar("Keyed", EventSession, Slot, Location, Participant, Wish)


def event_row(
    session: Session,
    event: Event,
    model: type[Keyed],
    key: str,
    what: str,
    field: str | None = None,
) -> Keyed:
    """The event's `what` (a session, slot, location, participant, wish) whose key is `key`;
    NotFound, naming `field`, for a key the event does not have."""
    found = session.scalar(select(model).where(model.event_id == event.id, model.key == key))
    if found is None:
        raise NotFound(f"The event has no {what} '{key}'.", field=field)
    return found


def event_rows(
    session: Session,
    event: Event,
    model: type[Keyed],
    keys: Iterable[str],
    *options: ExecutableOption,
) -> dict[str, Keyed]:
    """The event's rows of `model` whose keys are among `keys`, by key (loaded with
    `options`); keys the event does not have are left out, and no keys ask nothing."""
    wanted = set(keys)
    if not wanted:
        return {}
    query = select(model).where(model.event_id == event.id, model.key.in_(sorted(wanted)))
    return {row.key: row for row in session.scalars(query.options(*options))}


def find_event(session: Session, slug: str) -> Event | None:
    return session.scalar(select(Event).where(Event.slug == slug))


def get_event(session: Session, slug: str) -> Event:
    event = find_event(session, slug)
    if event is None:
        raise NotFound(f"There is no event '{slug}'.")
    return event


def lock_event(session: Session, event: Event) -> Event:
    """Re-read the event row under a lock, so checks made under it hold until the commit.

    PostgreSQL: FOR NO KEY UPDATE serialises the writers that take it (registrations,
    lifecycle changes) without blocking inserts that merely reference the event (wishes).
    SQLite: BEGIN IMMEDIATE already serialises all writers.
    """
    session.execute(select(Event.id).where(Event.id == event.id).with_for_update(key_share=True))
    session.refresh(event)
    return event


def role_of(session: Session, event: Event, organiser: Organiser) -> EventRoleName | None:
    """The organiser's role in the event, None when it has none."""
    return session.scalar(
        select(EventRole.role).where(
            EventRole.event_id == event.id, EventRole.organiser_id == organiser.id
        )
    )


def list_roles(session: Session, event: Event) -> list[EventRole]:
    return list(
        session.scalars(
            select(EventRole).where(EventRole.event_id == event.id).order_by(EventRole.id)
        )
    )


def _role_of(session: Session, event: Event, organiser_id: int) -> EventRole | None:
    return session.scalar(
        select(EventRole).where(
            EventRole.event_id == event.id, EventRole.organiser_id == organiser_id
        )
    )


def grant_role(session: Session, event: Event, email: str, role: EventRoleName) -> EventRole:
    """Give the organiser with `email` the role (or change its role) in the event."""
    organiser = find_organiser(session, email)
    if organiser is None:
        raise Invalid(f"There is no organiser with e-mail '{email}'.", field="body.email")
    existing = _role_of(session, event, organiser.id)
    if existing is None:
        existing = EventRole(event_id=event.id, organiser_id=organiser.id, role=role)
        session.add(existing)
    else:
        if existing.role is EventRoleName.owner and role is not EventRoleName.owner:
            _refuse_losing_last_owner(session, event)
        existing.role = role
    session.flush()
    return existing


def remove_role(session: Session, event: Event, organiser_id: int) -> None:
    role = _role_of(session, event, organiser_id)
    if role is None:
        raise NotFound(f"Organiser {organiser_id} has no role in this event.")
    if role.role is EventRoleName.owner:
        _refuse_losing_last_owner(session, event)
    session.delete(role)
    session.flush()


def _refuse_losing_last_owner(session: Session, event: Event) -> None:
    owners = session.scalar(
        select(func.count())
        .select_from(EventRole)
        .where(EventRole.event_id == event.id, EventRole.role == EventRoleName.owner)
    )
    if (owners or 0) <= 1:
        raise Conflict("An event keeps at least one owner; make someone else owner first.")


# --- events ----------------------------------------------------------------------------------

#: Fields an organiser may set when creating or editing an event.
EVENT_FIELDS = (
    "name",
    "description",
    "timezone",
    "venue",
    "mode",
    "registration_closes",
    "focus_areas",
    "rules",
    "wish_policy",
    "max_requests_per_participant",
    "wish_cutoff",
    "video_base_url",
)


def create_event(
    session: Session, organiser: Organiser, slug: str, fields: Mapping[str, Any]
) -> Event:
    """A new draft event; its creator becomes its owner."""
    if find_event(session, slug) is not None:
        raise Conflict(f"An event '{slug}' exists already; choose another slug.", field="body.slug")
    refuse(check_event({"slug": slug, **fields}))
    fields = _instants_in_utc(fields)
    event = Event(slug=slug, **{k: v for k, v in fields.items() if k in EVENT_FIELDS})
    session.add(event)
    session.flush()
    session.add(EventRole(event_id=event.id, organiser_id=organiser.id, role=EventRoleName.owner))
    session.flush()
    return event


def update_event(session: Session, event: Event, changes: Mapping[str, Any]) -> Event:
    """Apply the given fields; a new time zone must keep every slot a real local time."""
    refuse(check_event(changes))
    for name, value in _instants_in_utc(changes).items():
        if name in EVENT_FIELDS:
            setattr(event, name, value)
    if "timezone" in changes:
        _check_grid(session, event, "body.timezone")
    session.flush()
    return event


def _instants_in_utc(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Deadlines are stored as UTC instants (SQLite keeps no offset)."""
    return {
        name: as_utc(value) if name in ("registration_closes", "wish_cutoff") else value
        for name, value in fields.items()
    }


def delete_event(session: Session, event: Event) -> None:
    session.delete(event)
    session.flush()


def list_events(
    session: Session,
    organiser: Organiser,
    *,
    status: EventStatus | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Event], int]:
    """The events the organiser has a role in, newest first."""
    query = select(Event).join(EventRole).where(EventRole.organiser_id == organiser.id)
    if status is not None:
        query = query.where(Event.status == status)
    if q:
        pattern = f"%{q.strip().lower()}%"
        query = query.where(
            or_(func.lower(Event.name).like(pattern), func.lower(Event.slug).like(pattern))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Event.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


@dataclass(frozen=True)
class EventCounts:
    sessions: int
    slots: int
    locations: int
    organisations: int
    participants: int
    wishes: dict[str, int]


def event_counts(session: Session, event: Event) -> EventCounts:
    def count(model: Any) -> int:
        return (
            session.scalar(
                select(func.count()).select_from(model).where(model.event_id == event.id)
            )
            or 0
        )

    by_status = session.execute(
        select(Wish.status, func.count()).where(Wish.event_id == event.id).group_by(Wish.status)
    ).all()
    wishes = {status.value: 0 for status in WishStatus}
    wishes.update({WishStatus(status).value: n for status, n in by_status})
    return EventCounts(
        sessions=count(EventSession),
        slots=count(Slot),
        locations=count(Location),
        organisations=count(Organisation),
        participants=count(Participant),
        wishes=wishes,
    )


# --- lifecycle -------------------------------------------------------------------------------


def open_registration(session: Session, event: Event, now: datetime | None = None) -> Event:
    """draft, closed, scheduled or published → open. The event needs slots and locations to
    be worth joining. After a schedule exists, registration reopens only before its deadline
    (`registration_closes`): late registrants have no meetings until the next re-plan."""
    lock_event(session, event)
    if event.status is EventStatus.open:
        raise Conflict("Registration is open already.")
    if event.status in (EventStatus.scheduled, EventStatus.published):
        closes = as_utc(event.registration_closes)
        if closes is not None and (now or utcnow()) >= closes:
            raise Conflict(
                "The registration deadline has passed; move `registration_closes` later "
                "before reopening registration.",
                field="registration_closes",
            )
    missing = missing_to_open(session, event)
    if missing:
        raise Conflict(" ".join(missing))
    event.status = EventStatus.open
    session.flush()
    return event


def missing_to_open(session: Session, event: Event) -> list[str]:
    """What the event lacks before registration may open, in words (empty: nothing)."""
    counts = event_counts(session, event)
    missing = []
    if counts.slots == 0:
        missing.append("Add at least one session with slots before opening.")
    if counts.locations == 0:
        missing.append(
            "Add at least one location (a table, a room or a video room) before opening."
        )
    return missing


def close_registration(session: Session, event: Event) -> Event:
    """open → closed: no more registrations; wishes follow their own cut-off."""
    lock_event(session, event)
    if event.status is not EventStatus.open:
        raise Conflict(f"Only an open event can be closed, this event is {event.status}.")
    event.status = EventStatus.closed
    session.flush()
    return event


def registration_is_open(event: Event, now: datetime | None = None) -> bool:
    closes = as_utc(event.registration_closes)
    now = now or utcnow()
    return event.status is EventStatus.open and (closes is None or now < closes)


# --- sessions and slots ----------------------------------------------------------------------


def get_session(session: Session, event: Event, key: str) -> EventSession:
    return event_row(session, event, EventSession, key, "session")


def add_session(
    session: Session, event: Event, key: str, name: str, position: int | None
) -> EventSession:
    if session.scalar(
        select(EventSession.id).where(EventSession.event_id == event.id, EventSession.key == key)
    ):
        raise Conflict(f"The event has a session '{key}' already.", field="body.key")
    refuse(check_name(name))
    if position is None:
        position = _next_position(session, EventSession, event)
    row = EventSession(event_id=event.id, key=key, name=name, position=position)
    session.add(row)
    session.flush()
    return row


def update_session(session: Session, row: EventSession, changes: Mapping[str, Any]) -> EventSession:
    if "name" in changes:
        refuse(check_name(changes["name"]))
    for name in ("name", "position"):
        if name in changes:
            setattr(row, name, changes[name])
    session.flush()
    return row


def delete_session(session: Session, row: EventSession) -> None:
    """Delete a session and its slots, unless a schedule has meetings in them."""
    for slot in list(row.slots):
        _refuse_if_slot_used(session, slot)
        session.delete(slot)
    session.delete(row)
    session.flush()


def get_slot(session: Session, event: Event, key: str) -> Slot:
    return event_row(session, event, Slot, key, "slot")


def list_slots(session: Session, event: Event, session_key: str | None = None) -> list[Slot]:
    query = select(Slot).where(Slot.event_id == event.id)
    if session_key is not None:
        query = query.join(EventSession).where(EventSession.key == session_key)
    return list(session.scalars(query.order_by(Slot.start, Slot.id)))


def add_slot(
    session: Session,
    event: Event,
    row: EventSession,
    start: datetime,
    end: datetime,
    key: str | None = None,
) -> Slot:
    """A slot in the session; it must be a real local time and overlap no other slot."""
    key = key or _next_slot_keys(session, event, 1)[0]
    if session.scalar(select(Slot.id).where(Slot.event_id == event.id, Slot.key == key)):
        raise Conflict(f"The event has a slot '{key}' already.", field="body.key")
    _refuse_empty_slot(start, end)
    slot = Slot(event_id=event.id, session_id=row.id, key=key, start=start, end=end)
    session.add(slot)
    _check_grid(session, event, "body.start")
    return slot


def update_slot(session: Session, event: Event, slot: Slot, changes: Mapping[str, Any]) -> Slot:
    for name in ("start", "end"):
        if name in changes:
            setattr(slot, name, changes[name])
    _refuse_empty_slot(slot.start, slot.end)
    _check_grid(session, event, "body.start")
    return slot


def delete_slot(session: Session, slot: Slot) -> None:
    _refuse_if_slot_used(session, slot)
    session.delete(slot)
    session.flush()


def generate_slots(
    session: Session,
    event: Event,
    row: EventSession,
    *,
    start: datetime,
    end: datetime,
    meeting_minutes: int,
    pause_minutes: int,
    replace: bool = False,
) -> list[Slot]:
    """Fill the session from `start` to `end` with meetings of `meeting_minutes`, each
    followed by `pause_minutes` (to change tables). `replace` first removes the session's
    slots (refused when a schedule uses them)."""
    refuse(check_generation(start, end, meeting_minutes, pause_minutes))
    times = slot_times(start, end, meeting_minutes, pause_minutes)
    if not times:
        raise Invalid(
            f"No {meeting_minutes}-minute meeting fits between {start:%H:%M} and {end:%H:%M}.",
            field="body.end",
        )
    if replace:
        for slot in list(row.slots):
            _refuse_if_slot_used(session, slot)
            session.delete(slot)
        session.flush()
    keys = _next_slot_keys(session, event, len(times))
    slots = [
        Slot(event_id=event.id, session_id=row.id, key=key, start=s, end=e)
        for key, (s, e) in zip(keys, times, strict=True)
    ]
    session.add_all(slots)
    _check_grid(session, event, "body.start")
    return slots


def slot_times(
    start: datetime, end: datetime, meeting_minutes: int, pause_minutes: int
) -> list[tuple[datetime, datetime]]:
    """Consecutive (start, end) pairs of meetings that fit wholly between `start` and `end`."""
    length, pause = timedelta(minutes=meeting_minutes), timedelta(minutes=pause_minutes)
    times = []
    current = start
    while current + length <= end:
        times.append((current, current + length))
        current += length + pause
    return times


_SLOT_KEY = re.compile(r"^s(\d+)$")


def _next_slot_keys(session: Session, event: Event, count: int) -> list[str]:
    """`s<n>` keys after the highest number in use, so generated keys never collide."""
    keys = session.scalars(select(Slot.key).where(Slot.event_id == event.id)).all()
    numbers = [int(m.group(1)) for k in keys if (m := _SLOT_KEY.match(k))]
    first = max(numbers, default=0) + 1
    return [f"s{n}" for n in range(first, first + count)]


def _refuse_empty_slot(start: datetime, end: datetime) -> None:
    # Checked before anything is written: the database's own check would only say 409.
    refuse(check_slot_times(start, end))


def _check_grid(session: Session, event: Event, field: str) -> None:
    try:
        check_event_slots(session, event)
    except TimeGridError as error:
        messages = "; ".join(p.message for p in error.problems)
        raise Invalid(f"The slots cannot be stored: {messages}.", field=field) from None


def _refuse_if_slot_used(session: Session, slot: Slot) -> None:
    _refuse_if_met_in(session, Meeting.slot_id == slot.id, f"Slot '{slot.key}'")


def _refuse_if_met_in(session: Session, where: ColumnElement[bool], what: str) -> None:
    """A slot or location (`what`, named for the message) cannot be removed while meetings of
    schedule versions (those `where` selects) use it."""
    used = session.scalar(select(func.count()).select_from(Meeting).where(where))
    if used:
        raise Conflict(f"{what} holds {used} meetings of schedule versions; it cannot be removed.")


# --- locations -------------------------------------------------------------------------------


def get_location(session: Session, event: Event, key: str) -> Location:
    return event_row(session, event, Location, key, "location")


def list_locations(session: Session, event: Event) -> list[Location]:
    return list(
        session.scalars(
            select(Location)
            .where(Location.event_id == event.id)
            .order_by(Location.position, Location.id)
        )
    )


def add_location(session: Session, event: Event, fields: Mapping[str, Any]) -> Location:
    """A new location; without a `key` the next free one of its kind (`t<n>`, `r<n>`, `v<n>`)."""
    fields = dict(fields)
    if not fields.get("key"):
        fields["key"] = next_location_keys(session, event, fields.get("kind", ""), 1)[0]
    refuse(check_location({"kind": LocationKind.table, "capacity": 1, "url": "", **fields}))
    key = fields["key"]
    if session.scalar(
        select(Location.id).where(Location.event_id == event.id, Location.key == key)
    ):
        raise Conflict(f"The event has a location '{key}' already.", field="body.key")
    values = dict(fields)
    if values.get("position") is None:
        values["position"] = _next_position(session, Location, event)
    location = Location(event_id=event.id, **values)
    session.add(location)
    session.flush()
    return location


def update_location(session: Session, location: Location, changes: Mapping[str, Any]) -> Location:
    refuse(check_location({k: v for k, v in changes.items() if k != "key"}))
    for name in ("name", "kind", "capacity", "url", "position"):
        if name in changes:
            setattr(location, name, changes[name])
    session.flush()
    return location


def delete_location(session: Session, location: Location) -> None:
    _refuse_if_met_in(session, Meeting.location_id == location.id, f"Location '{location.key}'")
    session.delete(location)
    session.flush()


#: Key letters of the locations made without a key.
_LOCATION_PREFIX = {LocationKind.table: "t", LocationKind.room: "r", LocationKind.online: "v"}


def next_location_keys(session: Session, event: Event, kind: Any, count: int) -> list[str]:
    """`<letter><n>` keys after the highest number in use with that letter."""
    try:
        letter = _LOCATION_PREFIX[LocationKind(kind)]
    except ValueError:
        letter = "l"
    pattern = re.compile(rf"^{letter}(\d+)$")
    keys = session.scalars(select(Location.key).where(Location.event_id == event.id)).all()
    numbers = [int(m.group(1)) for k in keys if (m := pattern.match(k))]
    first = max(numbers, default=0) + 1
    return [f"{letter}{n}" for n in range(first, first + count)]


#: At most this many locations are added in one step.
NUMBERED_MOST = 500


def add_numbered_locations(
    session: Session,
    event: Event,
    *,
    prefix: str,
    first: int,
    last: int,
    kind: LocationKind = LocationKind.table,
    capacity: int = 1,
) -> list[Location]:
    """ "Table 1" … "Table 40" in one step: locations named `prefix` and each number from
    `first` to `last`, all checked before any is stored."""
    problems = [p for p in check_location({"name": f"{prefix} {last}"}) if p.field == "name"]
    problems = [Problem("prefix", p.message) for p in problems]
    for name, number in (("first", first), ("last", last)):
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 1_000_000:
            problems.append(Problem(name, "must be a whole number from 0 to 1000000"))
    if not problems and last < first:
        problems.append(Problem("last", "must not be below the first number"))
    elif not problems and last - first + 1 > NUMBERED_MOST:
        problems.append(Problem("last", f"at most {NUMBERED_MOST} locations are added at once"))
    problems += [p for p in check_location({"kind": kind, "capacity": capacity})]
    refuse(problems)
    names = [f"{prefix.strip()} {n}" for n in range(first, last + 1)]
    taken = set(
        session.scalars(
            select(Location.name).where(Location.event_id == event.id, Location.name.in_(names))
        )
    )
    if taken:
        shown = ", ".join(sorted(taken)[:5])
        raise Invalid(f"The event has locations named {shown} already.", field="body.first")
    keys = next_location_keys(session, event, kind, len(names))
    position = _next_position(session, Location, event)
    rows = [
        Location(
            event_id=event.id,
            key=key,
            name=name,
            kind=kind,
            capacity=capacity,
            position=position + i,
        )
        for i, (key, name) in enumerate(zip(keys, names, strict=True))
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _next_position(session: Session, model: Any, event: Event) -> int:
    highest = session.scalar(select(func.max(model.position)).where(model.event_id == event.id))
    return 0 if highest is None else highest + 1
