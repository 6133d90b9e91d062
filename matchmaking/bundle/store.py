"""Bundles in and out of the database: `import_bundle`, `export_bundle`, `participants_csv`.

Import stores a validated `Bundle` as one event in a savepoint, so nothing of it remains when
any part fails. Export reads an event back in the order it was imported (sessions and
locations by position, everything else by insertion id), so export → import → export gives
the same bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from matchmaking.bundle.schemas import (
    BUNDLE_FORMAT,
    MAX_NAME,
    MAX_TEXT,
    Bundle,
    EventIn,
    LocationIn,
    OrganisationIn,
    ParticipantIn,
    Rules,
    SessionIn,
    SlotIn,
    WishIn,
)
from matchmaking.bundle.validate import BundleError, BundleProblem
from matchmaking.organising.timegrid import SlotTimes, check_event_slots, slot_problems
from matchmaking.planning.publishing import current_published_version
from matchmaking.planning.scheduling import wish_rows
from matchmaking.planning.versions import latest_version
from matchmaking.platform.errors import Conflict
from matchmaking.platform.models import (
    Attendance,
    Event,
    EventMode,
    EventRole,
    EventRoleName,
    EventSession,
    Location,
    LocationKind,
    Meeting,
    Organisation,
    OrganisationKind,
    Organiser,
    Participant,
    ParticipantUnavailableSlot,
    ScheduleVersion,
    Slot,
    Wish,
    WishPrecedence,
    WishStatus,
)
from matchmaking.platform.text import TEXT_FORBIDDEN, has_visible_character, one_line

__all__ = [
    "export_bundle",
    "import_bundle",
    "participants_csv",
    "version_to_show",
]


def _refused(problems: Iterable[tuple[str, str]]) -> BundleError:
    return BundleError([BundleProblem(path, message) for path, message in problems])


# --- import ---------------------------------------------------------------------------------


def import_bundle(session: Session, bundle: Bundle, *, owner: Organiser | None = None) -> Event:
    """Store `bundle` as a new event (and make `owner` its owner); flushes, caller commits.

    Raises BundleError when the slug is taken or a slot breaks the time grid rules; then
    nothing of the bundle is left in the session.
    """
    _refuse_bad_time_grid(bundle)
    slug = bundle.event.slug
    if session.scalar(select(func.count()).select_from(Event).where(Event.slug == slug)):
        raise _refused([("/event/slug", f'an event "{slug}" already exists')])
    try:
        with session.begin_nested():
            event = _store(session, bundle)
            if owner is not None:
                session.add(EventRole(event=event, organiser=owner, role=EventRoleName.owner))
            # The write path's own check, so no caller can store an overlapping grid.
            check_event_slots(session, event)
    except IntegrityError as error:
        # Another import took the slug between our check and our insert.
        if session.scalar(select(func.count()).select_from(Event).where(Event.slug == slug)):
            raise _refused([("/event/slug", f'an event "{slug}" already exists')]) from None
        raise error
    return event


def _refuse_bad_time_grid(bundle: Bundle) -> None:
    paths: list[str] = []
    times: list[SlotTimes] = []
    for i, block in enumerate(bundle.sessions):
        for j, slot in enumerate(block.slots):
            paths.append(f"/sessions/{i}/slots/{j}")
            times.append(SlotTimes(slot.id, slot.start, slot.end))
    problems = slot_problems(bundle.event.timezone, times)
    if problems:
        raise _refused(
            [
                ("/event/timezone" if p.index < 0 else f"{paths[p.index]}/{p.field}", p.message)
                for p in problems
            ]
        )


def _store(session: Session, bundle: Bundle) -> Event:
    # Rows go in with bulk INSERT ... RETURNING in bundle order (ids then grow in the order
    # export writes); the ORM's unit of work would take a minute for a 25,000-wish fair.
    event = _new_event(bundle.event)
    session.add(event)
    session.flush()
    sessions = _insert(
        session,
        EventSession,
        [
            {"event_id": event.id, "key": block.id, "name": block.name, "position": position}
            for position, block in enumerate(bundle.sessions)
        ],
    )
    slots = _insert(
        session,
        Slot,
        [
            {"event_id": event.id, "session_id": sessions[block.id], "key": slot.id,
             "start": slot.start, "end": slot.end}
            for block in bundle.sessions
            for slot in block.slots
        ],
    )  # fmt: skip
    locations = _insert(
        session, Location, [_location_row(event, i, loc) for i, loc in enumerate(bundle.locations)]
    )
    organisations = _insert(
        session, Organisation, [_organisation_row(event, o) for o in bundle.organisations]
    )
    default_attendance = Attendance.online if event.mode == EventMode.online else Attendance.onsite
    participants = _insert(
        session,
        Participant,
        [
            _participant_row(event, p, organisations, locations, default_attendance)
            for p in bundle.participants
        ],
    )
    _insert_links(
        session,
        ParticipantUnavailableSlot,
        [
            {"participant_id": participants[p.id], "slot_id": slots[key]}
            for p in bundle.participants
            for key in dict.fromkeys(p.unavailable)
        ],
    )
    wishes = _insert(
        session,
        Wish,
        [_wish_row(event, w, participants, organisations, sessions, slots) for w in bundle.wishes],
    )
    _insert_links(
        session,
        WishPrecedence,
        [
            {"wish_id": wishes[w.id], "before_id": wishes[key]}
            for w in bundle.wishes
            for key in dict.fromkeys(w.after)
        ],
    )
    return event


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert `rows` in order; key → new id."""
    if not rows:
        return {}
    statement = insert(model).returning(model.id, model.key, sort_by_parameter_order=True)
    return {key: row_id for row_id, key in session.execute(statement, rows)}


def _insert_links(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), rows)


def _new_event(info: EventIn) -> Event:
    return Event(
        slug=info.slug,
        name=info.name,
        description=info.description or "",
        timezone=info.timezone,
        venue=info.venue or "",
        mode=EventMode(info.mode),
        registration_closes=(
            info.registration_closes.astimezone(UTC) if info.registration_closes else None
        ),
        focus_areas=list(info.focus_areas),
        rules=info.rules.model_dump(mode="json", exclude_none=True),
        video_base_url=info.video_base_url or "",
    )


def _location_row(event: Event, position: int, location: LocationIn) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "key": location.id,
        "name": location.name,
        "kind": LocationKind(location.kind),
        "capacity": location.capacity,
        "url": location.url or "",
        "position": position,
    }


def _organisation_row(event: Event, organisation: OrganisationIn) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "key": organisation.id,
        "name": organisation.name,
        "kind": OrganisationKind(organisation.kind),
        "country": organisation.country or "",
        "sectors": list(organisation.sectors),
        "description": organisation.description or "",
        "website": organisation.website or "",
        "offers": list(organisation.offers or []),
        "seeks": list(organisation.seeks or []),
        "delegation": organisation.delegation or "",
    }


def _participant_row(
    event: Event,
    person: ParticipantIn,
    organisations: dict[str, int],
    locations: dict[str, int],
    default_attendance: Attendance,
) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "key": person.id,
        "name": person.name,
        "organisation_id": organisations[person.organisation],
        "email": person.email or "",
        "job_title": person.job_title or "",
        "attendance": Attendance(person.attendance) if person.attendance else default_attendance,
        "max_meetings": person.max_meetings,
        "host_location_id": locations[person.host_location] if person.host_location else None,
        "timezone": person.timezone or "",
        "listed": person.listed,
    }


def _wish_row(
    event: Event,
    wish: WishIn,
    participants: dict[str, int],
    organisations: dict[str, int],
    sessions: dict[str, int],
    slots: dict[str, int],
) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "key": wish.id,
        "sender_id": participants[wish.from_],
        "recipient_id": participants[wish.to] if wish.to else None,
        "recipient_organisation_id": (
            organisations[wish.to_organisation] if wish.to_organisation else None
        ),
        "priority": wish.priority,
        "status": WishStatus(wish.status),
        "required": wish.required,
        "separate": wish.separate,
        "session_id": sessions[wish.session] if wish.session else None,
        "fixed_slot_id": slots[wish.fixed_slot] if wish.fixed_slot else None,
        "message": wish.message or "",
    }


# --- export ---------------------------------------------------------------------------------


def check_exportable(sessions: Sequence[EventSession]) -> None:
    """A bundle holds at least one session and each session at least one slot: an event being
    set up (no session yet, or a session whose slots are not made yet) is refused with 409
    saying what to add, instead of an invalid document."""
    if not sessions:
        raise Conflict(
            "The event cannot be exported as a bundle yet: it has no sessions. Add a session "
            "with its slots first."
        )
    empty = [s.name.strip() or s.key for s in sessions if not s.slots]
    if empty:
        names = ", ".join(f'"{name}"' for name in empty)
        raise Conflict(
            "The event cannot be exported as a bundle yet: every session of a bundle has "
            f"slots, and {names} has none. Add its slots or delete it, then export again."
        )


def export_bundle(session: Session, event: Event) -> Bundle:
    """The event as a bundle, in the order it was imported or created."""
    sessions = session.scalars(
        select(EventSession)
        .where(EventSession.event_id == event.id)
        .options(selectinload(EventSession.slots))
        .order_by(EventSession.position, EventSession.id)
    ).all()
    check_exportable(sessions)
    return Bundle(
        format=BUNDLE_FORMAT,
        event=_event_out(event),
        sessions=[
            SessionIn(
                id=s.key,
                name=_exportable_name(s.name, s.key),
                slots=[SlotIn(id=slot.key, start=slot.start, end=slot.end) for slot in s.slots],
            )
            for s in sessions
        ],
        locations=[
            _location_out(loc) for loc in _rows(session, Location, event, Location.position)
        ],
        organisations=[_organisation_out(o) for o in _rows(session, Organisation, event)],
        participants=[_participant_out(p) for p in _participants(session, event)],
        wishes=_wishes_out(session, event),
    )


_Listed = TypeVar("_Listed", Location, Organisation)


def _rows(
    session: Session, model: type[_Listed], event: Event, *order: object
) -> Sequence[_Listed]:
    return session.scalars(
        select(model).where(model.event_id == event.id).order_by(*order, model.id)  # type: ignore[arg-type]
    ).all()


def _participants(session: Session, event: Event) -> Sequence[Participant]:
    return session.scalars(
        select(Participant)
        .where(Participant.event_id == event.id)
        .options(
            selectinload(Participant.organisation),
            selectinload(Participant.host_location),
            selectinload(Participant.unavailable_slots),
        )
        .order_by(Participant.id)
    ).all()


def _wishes_out(session: Session, event: Event) -> list[WishIn]:
    """The wishes as the bundle holds them. The format has no field for a proposal of the
    organisers (`Wish.proposed`): one both sides accepted is a meeting both asked for and is
    written as an accepted wish at its priority (3, the lowest the format has); one still
    waiting for an answer, or declined, was asked for by nobody and is left out (written as
    a wish, it would say that its `from` asked for it). Importing such a bundle makes the
    accepted ones ordinary wishes."""
    rows, after = wish_rows(session, event)
    rows = [r for r in rows if not r.proposed or WishStatus(r.status) is WishStatus.accepted]
    kept = {r.key for r in rows}
    return [
        WishIn.model_validate(
            _given(
                id=row.key,
                **{"from": row.sender_key},
                to=row.recipient_key,
                to_organisation=row.organisation_key,
                priority=row.priority,
                status=WishStatus(row.status).value,
                required=row.required,
                session=row.session_key,
                fixed_slot=row.slot_key,
                after=[key for key in after.get(row.id, []) if key in kept],
                separate=row.separate,
                message=_exportable_text(row.message),
            )
        )
        for row in rows
    ]


def _event_out(event: Event) -> EventIn:
    closes = event.registration_closes
    if closes is not None:
        # SQLite hands back naive UTC; written in the event's zone, as organisers think of it.
        closes = (closes if closes.tzinfo else closes.replace(tzinfo=UTC)).astimezone(
            ZoneInfo(event.timezone)
        )
    return EventIn.model_validate(
        _given(
            slug=event.slug,
            name=_exportable_name(event.name, event.slug),
            timezone=event.timezone,
            venue=_exportable_name(event.venue or "", "") or None,
            mode=event.mode.value,
            registration_closes=closes,
            focus_areas=list(event.focus_areas),
            rules=Rules.model_validate(event.rules or {}),
            description=_exportable_text(event.description),
            video_base_url=event.video_base_url or None,
        )
    )


def _location_out(location: Location) -> LocationIn:
    return LocationIn.model_validate(
        _given(
            id=location.key,
            name=_exportable_name(location.name, location.key),
            kind=location.kind.value,
            capacity=location.capacity,
            url=location.url or None,
        )
    )


def _organisation_out(organisation: Organisation) -> OrganisationIn:
    return OrganisationIn.model_validate(
        _given(
            id=organisation.key,
            name=_exportable_name(organisation.name, organisation.key),
            kind=organisation.kind.value,
            country=organisation.country or None,
            sectors=list(organisation.sectors),
            description=_exportable_text(organisation.description),
            website=organisation.website or None,
            offers=list(organisation.offers) or None,
            seeks=list(organisation.seeks) or None,
            delegation=organisation.delegation or None,
        )
    )


def _participant_out(person: Participant) -> ParticipantIn:
    return ParticipantIn.model_validate(
        _given(
            id=person.key,
            name=_exportable_name(person.name, person.key),
            organisation=person.organisation.key,
            email=person.email or None,
            attendance=person.attendance.value,
            unavailable=[slot.key for slot in person.unavailable_slots],
            max_meetings=person.max_meetings,
            host_location=person.host_location.key if person.host_location else None,
            job_title=_exportable_name(person.job_title or "", "") or None,
            timezone=person.timezone or None,
            listed=person.listed,
        )
    )


def _exportable_name(value: str | None, fallback: str) -> str:
    """A stored name as the bundle format takes it. The API refuses bad names, but rows
    stored before those checks (or written to the database directly) must still export:
    control characters become spaces, and a name with nothing visible becomes `fallback`
    (the row's id), so the export never fails on stored data."""
    text = one_line(value or "")[:MAX_NAME]
    return text if has_visible_character(text) else fallback


def _exportable_text(value: str | None) -> str | None:
    """Stored free text as the bundle format takes it (control characters other than line
    breaks become spaces); None for none."""
    text = TEXT_FORBIDDEN.sub(" ", value or "")[:MAX_TEXT]
    return text or None


def _given(**fields: object) -> dict[str, object]:
    # Absent and null mean the same in the format; leaving nulls out keeps dumps canonical.
    return {name: value for name, value in fields.items() if value is not None}


# --- CSV for organisers -----------------------------------------------------------------------

#: A spreadsheet runs a cell starting with one of these as a formula (CSV injection). Tabs and
#: carriage returns, which some spreadsheets also take as a formula start, never reach the
#: check: `one_line` has made them spaces.
_FORMULA_START = ("=", "+", "-", "@")

PARTICIPANT_COLUMNS = [
    "id", "name", "job_title", "organisation", "organisation_kind", "country", "email",
    "attendance", "host_location", "max_meetings", "wishes_sent", "wishes_received_accepted",
    "meetings",
]  # fmt: skip


def safe_cell(value: object) -> str:
    """The cell text on one line (control characters and U+2028/U+2029 become spaces), with
    a leading `'` when a spreadsheet would take it for a formula."""
    text = "" if value is None else one_line(str(value))
    # Some spreadsheets skip leading spaces before they look for a formula; so does this.
    return f"'{text}" if text.lstrip(" ").startswith(_FORMULA_START) else text


def participants_csv(session: Session, event: Event, version: ScheduleVersion | None = None) -> str:
    """A CSV of the participants, with how many meetings each has in `version` (else the
    version shown: see `version_to_show`). The timetable CSV is `delivery.exports`'."""
    chosen = version or version_to_show(session, event)
    return _write(PARTICIPANT_COLUMNS, _participant_rows(session, event, chosen))


def version_to_show(session: Session, event: Event) -> ScheduleVersion | None:
    """The version an export shows: the published one, else the latest one."""
    return current_published_version(session, event.id) or latest_version(session, event)


def _write(columns: list[str], rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def _participant_rows(
    session: Session, event: Event, version: ScheduleVersion | None
) -> Iterable[list[object]]:
    sent = _counts(session, select(Wish.sender_id, func.count()).where(Wish.event_id == event.id))
    received = _counts(
        session,
        select(Wish.recipient_id, func.count()).where(
            Wish.event_id == event.id, Wish.status == WishStatus.accepted
        ),
    )
    meetings: dict[int | None, int] = {}
    if version is not None:
        for column in (Meeting.participant_a_id, Meeting.participant_b_id):
            counts = _counts(
                session, select(column, func.count()).where(Meeting.version_id == version.id)
            )
            for pid, n in counts.items():
                meetings[pid] = meetings.get(pid, 0) + n
    for p in _participants(session, event):
        yield [
            p.key,
            p.name,
            p.job_title,
            p.organisation.name,
            p.organisation.kind.value,
            p.organisation.country,
            p.email,
            p.attendance.value,
            p.host_location.name if p.host_location else "",
            "" if p.max_meetings is None else p.max_meetings,
            sent.get(p.id, 0),
            received.get(p.id, 0),
            meetings.get(p.id, 0) if version is not None else "",
        ]


def _counts(session: Session, query: object) -> dict[int | None, int]:
    grouped = query.group_by(query.selected_columns[0])  # type: ignore[attr-defined]
    return {key: count for key, count in session.execute(grouped).all()}
