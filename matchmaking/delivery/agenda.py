"""A participant's agenda: their meetings in the event's published version.

Times are given in the event's time zone as ISO 8601 with the UTC offset of that moment (so
an agenda spanning a daylight-saving change is right), and, for a participant who set their
own time zone (online participants far away), also in that zone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.base import ExecutableOption

from matchmaking.planning.publishing import current_published_version
from matchmaking.platform.models import (
    Event,
    Location,
    LocationKind,
    Meeting,
    Participant,
    ScheduleVersion,
    Slot,
)


@dataclass(frozen=True, slots=True)
class Counterpart:
    key: str
    name: str
    job_title: str
    attendance: str
    organisation: str
    organisation_kind: str
    country: str
    sectors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AgendaItem:
    uid: str
    slot: str
    session: str
    #: Local time in the event's zone with its offset, e.g. 2024-09-10T09:00:00-04:00.
    start: str
    end: str
    #: The same moments in the participant's own zone, when they set one.
    start_own_zone: str | None
    end_own_zone: str | None
    location: str
    location_name: str
    location_kind: str
    #: Video link for a meeting in an online location, else None.
    video_url: str | None
    kind: str
    wishes: tuple[str, ...]
    counterpart: Counterpart


@dataclass(frozen=True, slots=True)
class Agenda:
    event: str
    event_name: str
    timezone: str
    venue: str
    participant: str
    participant_name: str
    #: The published version shown; None while nothing is published.
    version: int | None
    published_at: datetime | None
    meetings: tuple[AgendaItem, ...]


def localise(moment: datetime, zone: ZoneInfo) -> datetime:
    """A slot's naive local wall-clock time as an aware datetime in the event zone."""
    return moment.replace(tzinfo=zone)


#: In a location's link, the place of the meeting's uid (a configured pattern).
MEETING_PLACEHOLDER = "{meeting}"


def video_link(event: Event, location: Location, meeting_uid: str) -> str | None:
    """The video link of one online meeting; every meeting that shares its slot with others
    in the same location gets a link of its own (docs/schedules.md, "Video links"):

    - the location's link with `{meeting}` in it: that pattern, with the meeting's uid;
    - the location's link, capacity 1: that link (one meeting at a time uses the room);
    - the location's link, capacity > 1: the link as a base, `<link>/<uid>`;
    - no link of its own: the event's video base URL, `<video_base_url>/<uid>`.
    """
    if location.kind != LocationKind.online:
        return None
    if location.url:
        if MEETING_PLACEHOLDER in location.url:
            return location.url.replace(MEETING_PLACEHOLDER, meeting_uid)
        if location.capacity <= 1:
            return location.url
        return f"{location.url.rstrip('/')}/{meeting_uid}"
    if event.video_base_url:
        return f"{event.video_base_url.rstrip('/')}/{meeting_uid}"
    return None


def participant_agenda(
    session: Session, participant: Participant, version: ScheduleVersion | None = None
) -> Agenda:
    """The participant's meetings in `version` (default: the event's published version)."""
    version = version or current_published_version(session, participant.event.id)
    meetings = _participant_meetings(session, participant, version) if version else []
    return _agenda(participant, version, meetings)


def published_agendas(session: Session, event: Event) -> Iterator[tuple[Participant, Agenda]]:
    """Every participant's agenda in the event's published version, as `participant_agenda`
    makes them one by one, from one read of the version's meetings."""
    version = current_published_version(session, event.id)
    of_participant: dict[int, list[Meeting]] = {}
    if version is not None:
        for meeting in session.scalars(_meetings_query(version)).unique():
            of_participant.setdefault(meeting.participant_a_id, []).append(meeting)
            of_participant.setdefault(meeting.participant_b_id, []).append(meeting)
    participants = session.scalars(
        select(Participant).where(Participant.event_id == event.id).order_by(Participant.id)
    )
    for participant in participants:
        yield participant, _agenda(participant, version, of_participant.get(participant.id, []))


def _agenda(
    participant: Participant, version: ScheduleVersion | None, meetings: list[Meeting]
) -> Agenda:
    event = participant.event
    zone = ZoneInfo(event.timezone)
    own_zone = _own_zone(participant)
    return Agenda(
        event=event.slug,
        event_name=event.name,
        timezone=event.timezone,
        venue=event.venue,
        participant=participant.key,
        participant_name=participant.name,
        version=version.number if version else None,
        published_at=version.published_at if version else None,
        meetings=tuple(_item(event, participant, m, zone, own_zone) for m in meetings),
    )


def agenda_from_json(body: bytes) -> Agenda:
    """An agenda back from the JSON the API serves and publication stores (the same names,
    field by field; `matchmaking.delivery.rendered`)."""
    data = json.loads(body)
    published_at = data["published_at"]
    meetings = tuple(
        AgendaItem(
            **{
                **item,
                "wishes": tuple(item["wishes"]),
                "counterpart": Counterpart(
                    **{**item["counterpart"], "sectors": tuple(item["counterpart"]["sectors"])}
                ),
            }
        )
        for item in data["meetings"]
    )
    return Agenda(
        **{
            **data,
            "published_at": datetime.fromisoformat(published_at) if published_at else None,
            "meetings": meetings,
        }
    )


def _own_zone(participant: Participant) -> ZoneInfo | None:
    if not participant.timezone or participant.timezone == participant.event.timezone:
        return None
    try:
        return ZoneInfo(participant.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # an unusable zone only costs the second time column


def _participant_meetings(
    session: Session, participant: Participant, version: ScheduleVersion
) -> list[Meeting]:
    query = _meetings_query(
        version,
        or_(
            Meeting.participant_a_id == participant.id,
            Meeting.participant_b_id == participant.id,
        ),
    )
    return list(session.scalars(query))


def _meetings_query(
    version: ScheduleVersion, *where: ColumnElement[bool]
) -> Select[tuple[Meeting]]:
    """The version's meetings (those `where` accepts), in time order, with what agendas show."""
    return (
        select(Meeting)
        .join(Meeting.slot)
        .where(Meeting.version_id == version.id, *where)
        # One joined statement for what each meeting has one of, one for the wishes.
        .options(*meeting_parts(), selectinload(Meeting.wishes))
        .order_by(Slot.start, Meeting.id)
    )


def meeting_parts() -> list[ExecutableOption]:
    """Load options for what a meeting has one of and agendas and attendance lists show: its
    slot and session, its location, both sides and their organisations (one joined statement)."""
    return [
        joinedload(Meeting.slot, innerjoin=True).joinedload(Slot.session, innerjoin=True),
        joinedload(Meeting.location, innerjoin=True),
        joinedload(Meeting.participant_a, innerjoin=True).joinedload(
            Participant.organisation, innerjoin=True
        ),
        joinedload(Meeting.participant_b, innerjoin=True).joinedload(
            Participant.organisation, innerjoin=True
        ),
    ]


def _item(
    event: Event,
    participant: Participant,
    meeting: Meeting,
    zone: ZoneInfo,
    own_zone: ZoneInfo | None,
) -> AgendaItem:
    is_a = meeting.participant_a_id == participant.id
    other = meeting.participant_b if is_a else meeting.participant_a
    start, end = localise(meeting.slot.start, zone), localise(meeting.slot.end, zone)
    organisation = other.organisation
    return AgendaItem(
        uid=meeting.uid,
        slot=meeting.slot.key,
        session=meeting.slot.session.name,
        start=start.isoformat(),
        end=end.isoformat(),
        start_own_zone=start.astimezone(own_zone).isoformat() if own_zone else None,
        end_own_zone=end.astimezone(own_zone).isoformat() if own_zone else None,
        location=meeting.location.key,
        location_name=meeting.location.name,
        location_kind=meeting.location.kind.value,
        video_url=video_link(event, meeting.location, meeting.uid),
        kind=meeting.kind,
        wishes=tuple(wish.key for wish in meeting.wishes),
        counterpart=Counterpart(
            key=other.key,
            name=other.name,
            job_title=other.job_title,
            attendance=other.attendance.value,
            organisation=organisation.name,
            organisation_kind=organisation.kind.value,
            country=organisation.country,
            sectors=tuple(organisation.sectors),
        ),
    )
