"""iCalendar feeds of published schedules: a participant's agenda, a location's day, the event.

Calendar apps keep what they once imported, so a feed must describe changes in a way they
understand: each meeting keeps one UID for its whole life (the Meeting row's `uid`, which is the
same in every version), its SEQUENCE goes up every time its time, place or people change, and a
meeting that was published and then dropped stays in the feed as STATUS:CANCELLED with a higher
SEQUENCE for a while, so subscribers see it disappear instead of keeping a stale entry.

The history comes from the published schedule versions themselves (every version with a
`published_at`, in publication order); nothing extra is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from icalendar.caselessdict import canonsort_keys
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, joinedload

from matchmaking.delivery.agenda import video_link as agenda_video_link
from matchmaking.delivery.serving import Served, strong_etag
from matchmaking.organising.timegrid import SLOT_YEARS
from matchmaking.planning.publishing import publication_history
from matchmaking.platform.errors import Conflict
from matchmaking.platform.models import (
    CalendarLink,
    Event,
    Location,
    LocationKind,
    Meeting,
    Organisation,
    Participant,
    ScheduleVersion,
)
from matchmaking.platform.security import (
    CALENDAR_TOKEN_PREFIX,
    hash_token,
    new_token,
    worth_looking_up,
)
from matchmaking.platform.settings import Settings, get_settings

#: How long a published meeting that was dropped stays in feeds as cancelled.
CANCELLED_RETENTION = timedelta(days=60)
#: How often subscribed calendar apps should fetch the feed again.
REFRESH_INTERVAL = timedelta(hours=1)
PRODID = "-//matchmaking//schedule feed 1.0//EN"

# C0 and C1 control characters, DEL and the Unicode line/paragraph separators: any of them in
# a user-provided name could end a content line or confuse a parser.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean_text(value: str) -> str:
    """User-provided text made safe for one iCalendar property value: one line, no controls."""
    return _CONTROL.sub(" ", value).strip()


def _clean_param(value: str) -> str:
    # Parameter values (CN=...) cannot escape a double quote; drop quotes as well.
    return clean_text(value).replace('"', "'")


# --- calendar tokens ---------------------------------------------------------------------


#: The most calendar links a participant can hold at once. One link serves every device and
#: app; more than this means links are being made by mistake, and the participant is asked
#: to replace them (which revokes them all) instead.
MAX_CALENDAR_LINKS = 20


class TooManyCalendarLinks(Conflict):
    """The participant already holds `MAX_CALENDAR_LINKS` active calendar links."""


def issue_calendar_token(participant: Participant) -> str:
    """A new secret for the participant's feed URL, beside the ones they already have (each
    keeps working); only its hash is stored."""
    if len(participant.calendar_links) >= MAX_CALENDAR_LINKS:
        raise TooManyCalendarLinks(
            f"You already have {MAX_CALENDAR_LINKS} calendar links; one link works in every "
            "calendar app. Replace your links to make a new one (the old ones stop working)."
        )
    token = new_token(CALENDAR_TOKEN_PREFIX)
    participant.calendar_links.append(CalendarLink(token_hash=hash_token(token)))
    return token


def revoke_calendar_links(participant: Participant) -> int:
    """Every calendar link of the participant stops working; returns how many there were."""
    count = len(participant.calendar_links)
    participant.calendar_links.clear()
    return count


def replace_calendar_links(participant: Participant) -> str:
    """Revoke every calendar link of the participant and make one new one (its token)."""
    revoke_calendar_links(participant)
    token = new_token(CALENDAR_TOKEN_PREFIX)
    participant.calendar_links.append(CalendarLink(token_hash=hash_token(token)))
    return token


def participant_by_calendar_token(session: Session, token: str) -> Participant | None:
    if not worth_looking_up(token):
        return None
    return session.scalar(
        select(Participant)
        .join(CalendarLink, CalendarLink.participant_id == Participant.id)
        .where(CalendarLink.token_hash == hash_token(token))
    )


def participant_feed_url(
    token: str, *, webcal: bool = False, settings: Settings | None = None
) -> str:
    """The secret feed URL (https for download, webcal:// for a subscription)."""
    base = (settings or get_settings()).base_url.rstrip("/")
    url = f"{base}/calendars/participants/{token}.ics"
    if webcal:
        url = "webcal://" + url.split("://", 1)[1]
    return url


def video_link(event: Event, meeting: Meeting) -> str:
    """The video link of an online meeting (the same one the agenda shows), else ""."""
    return agenda_video_link(event, meeting.location, meeting.uid) or ""


# --- history of published versions -------------------------------------------------------


@dataclass(frozen=True)
class CalendarEntry:
    """One VEVENT: a meeting as it stands in the latest publication, as seen by one feed."""

    meeting: Meeting
    sequence: int
    cancelled: bool
    #: Publication time of the first version that held the meeting.
    created_at: datetime
    #: Publication time of the version that last changed it (or dropped it).
    changed_at: datetime


def published_versions(session: Session, event: Event) -> list[ScheduleVersion]:
    """The event's published versions, oldest publication first (superseded ones included)."""
    return publication_history(session, event.id)


def aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive datetimes for
    timezone-aware columns; they are UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _state(meeting: Meeting) -> tuple[int, int, frozenset[int]]:
    """What a calendar shows of a meeting: its time, its place and its two people."""
    return (
        meeting.slot_id,
        meeting.location_id,
        frozenset((meeting.participant_a_id, meeting.participant_b_id)),
    )


MeetingFilter = Callable[[Meeting], bool]


def calendar_entries(
    session: Session,
    event: Event,
    shows: MeetingFilter,
    candidates: Sequence[ColumnElement[bool]] = (),
    *,
    now: datetime | None = None,
    versions: list[ScheduleVersion] | None = None,
) -> list[CalendarEntry]:
    """The feed's VEVENTs: meetings `shows` accepts, with SEQUENCE and cancellations.

    `candidates` are extra SQL conditions on Meeting that narrow the rows loaded to those the
    feed can show (a participant's, a location's); `shows` is the exact test in Python.
    """
    if versions is None:
        versions = published_versions(session, event)
    if not versions:
        return []
    history = meeting_history(session, versions, candidates)
    return history.entries(history.uids(), shows, now or datetime.now(UTC))


@dataclass(frozen=True)
class MeetingHistory:
    """Meetings of the published versions, by version and uid: what feeds are made of."""

    versions: list[ScheduleVersion]
    by_version: dict[int, dict[str, Meeting]]

    def uids(self) -> set[str]:
        return {uid for meetings in self.by_version.values() for uid in meetings}

    def entries(
        self, uids: Iterable[str], shows: MeetingFilter, now: datetime
    ) -> list[CalendarEntry]:
        """The VEVENTs of the meetings `uids` that `shows` accepts, in the feed's order."""
        entries = [
            entry
            for uid in sorted(uids)
            if (entry := _entry_for(uid, self.versions, self.by_version, shows, now)) is not None
        ]
        entries.sort(
            key=lambda e: (e.meeting.slot.start, e.meeting.location.position, e.meeting.uid)
        )
        return entries


def meeting_history(
    session: Session,
    versions: list[ScheduleVersion],
    candidates: Sequence[ColumnElement[bool]] = (),
) -> MeetingHistory:
    """The meetings of `versions` (published ones, oldest first) whose uid any of them holds
    under the `candidates` conditions (all of them without)."""
    version_ids = [v.id for v in versions]
    relevant_uids = select(Meeting.uid).where(Meeting.version_id.in_(version_ids), *candidates)
    meetings = session.scalars(
        select(Meeting)
        .where(
            Meeting.version_id.in_(version_ids),
            *([Meeting.uid.in_(relevant_uids)] if candidates else []),
        )
        .options(
            # Each meeting has one of each: one joined statement, not one per relation.
            joinedload(Meeting.slot, innerjoin=True),
            joinedload(Meeting.location, innerjoin=True),
            joinedload(Meeting.participant_a, innerjoin=True).joinedload(
                Participant.organisation, innerjoin=True
            ),
            joinedload(Meeting.participant_b, innerjoin=True).joinedload(
                Participant.organisation, innerjoin=True
            ),
        )
    ).all()
    by_version: dict[int, dict[str, Meeting]] = {v.id: {} for v in versions}
    for meeting in meetings:
        by_version[meeting.version_id][meeting.uid] = meeting
    return MeetingHistory(versions, by_version)


def _entry_for(
    uid: str,
    versions: list[ScheduleVersion],
    by_version: dict[int, dict[str, Meeting]],
    shows: MeetingFilter,
    now: datetime,
) -> CalendarEntry | None:
    sequence = 0
    previous: tuple[int, int, frozenset[int]] | None = None
    created_at: datetime | None = None
    changed_at: datetime | None = None
    last_shown: Meeting | None = None
    current: Meeting | None = None
    for version in versions:
        published_at = aware(version.published_at or version.created_at)
        current = by_version[version.id].get(uid)
        state = _state(current) if current is not None else None
        if created_at is None:
            if current is None:
                continue
            created_at = changed_at = published_at
        elif state != previous:
            sequence += 1
            changed_at = published_at
        previous = state
        if current is not None and shows(current):
            last_shown = current
    if last_shown is None or created_at is None or changed_at is None:
        return None
    if current is not None and shows(current):
        return CalendarEntry(current, sequence, False, created_at, changed_at)
    if now - changed_at > CANCELLED_RETENTION:
        return None
    # Dropped, moved elsewhere or handed to someone else: cancelled for this feed.
    return CalendarEntry(last_shown, sequence, True, created_at, changed_at)


# --- building the iCalendar document -----------------------------------------------------


#: What a zone observes at one instant: its UTC offset, its daylight-saving part, its name.
_Observance = tuple[timedelta, timedelta, str]
#: Steps of the search for transitions: no zone changes its offset twice within six hours.
_PROBE = timedelta(hours=6)


def _observance(zone: ZoneInfo, moment: datetime) -> _Observance:
    local = moment.astimezone(zone)
    return (
        local.utcoffset() or timedelta(0),
        local.dst() or timedelta(0),
        local.tzname() or "",
    )


def zone_transitions(
    zone: ZoneInfo, start: datetime, end: datetime
) -> tuple[_Observance, list[tuple[datetime, _Observance]]]:
    """What `zone` observes at `start` (an aware instant), and each change of offset, DST part
    or name after it up to `end`: (the UTC instant of the change, what is observed from then)."""
    current = _observance(zone, start)
    first, changes = current, []
    low = start
    while low < end:
        high = min(low + _PROBE, end)
        observed = _observance(zone, high)
        if observed != current:
            # The change lies in (low, high]: halve the interval down to the second.
            before = low
            while high - before > timedelta(seconds=1):
                middle = before + (high - before) / 2
                middle = middle.replace(microsecond=0)
                if middle <= before:
                    break
                if _observance(zone, middle) == current:
                    before = middle
                else:
                    high = middle
            observed = _observance(zone, high)
            changes.append((high, observed))
            current = observed
        low = high
    return first, changes


def _sub_component(
    observed: _Observance, onset: datetime, offset_from: timedelta
) -> icalendar.cal.Component:
    offset, dst, name = observed
    sub: icalendar.cal.Component = (
        icalendar.TimezoneDaylight() if dst > timedelta(0) else icalendar.TimezoneStandard()
    )
    sub.add("dtstart", onset)
    sub.add("tzoffsetfrom", offset_from)
    sub.add("tzoffsetto", offset)
    if name:
        sub.add("tzname", name)
    return sub


@lru_cache(maxsize=64)
def _vtimezone(tzid: str, first: date, last: date) -> icalendar.Timezone:
    """The VTIMEZONE of `tzid` from the start of `first` to the end of `last`.

    One STANDARD or DAYLIGHT sub-component per observance, each with a single onset: DTSTART
    is the local time at which it begins (in the offset before it, as RFC 5545 says) and
    there is no RDATE or RRULE. Every parser reads that form alike; the form with an RDATE
    beside a DTSTART (icalendar's `Timezone.from_tzid`) is read by ical.js as if the DTSTART
    were absent, which put a Toronto meeting of 10 March 2027 an hour early. The first
    sub-component is what the zone observes at the start of the range (offset from = to).

    Built once per zone and range and shared by every feed of the event, so that the bytes
    are the same in all of them: feeds only serialise it, never change it."""
    zone = ZoneInfo(tzid)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    initial, changes = zone_transitions(zone, start, end)
    component = icalendar.Timezone()
    component.add("tzid", tzid)
    onset = (start + initial[0]).replace(tzinfo=None)
    component.add_component(_sub_component(initial, onset, initial[0]))
    previous = initial
    for moment, observed in changes:
        onset = (moment + previous[0]).replace(tzinfo=None)
        component.add_component(_sub_component(observed, onset, previous[0]))
        previous = observed
    return component


#: (event id, creation time, serving generation) → the first and last day of the event's
#: slots. Slots are among what raises the generation, so an entry never goes stale; it saves
#: loading every slot of the event for each feed rendered. The creation time tells apart
#: events of the same id in different databases (one process running tests on several).
_EVENT_DAYS: dict[tuple[int, datetime, int], tuple[date, date]] = {}


def _event_days(event: Event) -> tuple[date, date]:
    key = (event.id, event.created_at, event.serving_generation)
    known = _EVENT_DAYS.get(key) if None not in key else None
    if known is None:
        # Days outside SLOT_YEARS (odd rows stored before the API refused them) are left out:
        # the zone's transitions around year 1 or 9999 overflow date arithmetic.
        days = [
            slot.start.date()
            for slot in event.slots
            if SLOT_YEARS[0] <= slot.start.year <= SLOT_YEARS[1]
        ] or [datetime.now(UTC).date()]
        known = (min(days), max(days))
        if None not in key:  # a stored event (not one being built)
            if len(_EVENT_DAYS) >= 1024:
                _EVENT_DAYS.clear()
            _EVENT_DAYS[key] = known
    return known


def vtimezone(event: Event) -> icalendar.Timezone:
    """The event zone's VTIMEZONE with the transitions around the event's dates (a shared
    component: add it to calendars, do not modify it)."""
    first, last = _event_days(event)
    return _vtimezone(event.timezone, first - timedelta(days=366), last + timedelta(days=366))


def _organisation_line(organisation: Organisation) -> str:
    parts = [clean_text(organisation.name), organisation.kind.value]
    if organisation.country:
        parts.append(clean_text(organisation.country))
    return f"{parts[0]} ({', '.join(parts[1:])})"


def _place(event: Event, meeting: Meeting) -> str:
    location = meeting.location
    if location.kind == LocationKind.online:
        return f"{clean_text(location.name)} (online)"
    return ", ".join(p for p in (clean_text(location.name), clean_text(event.venue)) if p)


def _person(participant: Participant) -> str:
    return f"{clean_text(participant.name)}, {clean_text(participant.organisation.name)}"


def _texts(event: Event, meeting: Meeting, viewer: Participant | None) -> tuple[str, str]:
    """SUMMARY and DESCRIPTION: counterpart (or both people), organisation, country, kind."""
    link = video_link(event, meeting)
    if viewer is not None:
        other = (
            meeting.participant_b
            if meeting.participant_a_id == viewer.id
            else meeting.participant_a
        )
        country = (
            f", {clean_text(other.organisation.country)}" if other.organisation.country else ""
        )
        summary = f"{meeting.kind} meeting with {_person(other)}{country}"
        people = [
            f"Counterpart: {clean_text(other.name)}"
            + (f", {clean_text(other.job_title)}" if other.job_title else ""),
            f"Organisation: {_organisation_line(other.organisation)}",
        ]
    else:
        a, b = meeting.participant_a, meeting.participant_b
        summary = f"{meeting.kind} meeting: {_person(a)} – {_person(b)}"
        people = [
            f"Participant: {clean_text(p.name)} – {_organisation_line(p.organisation)}"
            for p in (a, b)
        ]
    lines = [*people, f"Meeting kind: {meeting.kind}", f"Where: {_place(event, meeting)}"]
    if link:
        lines.append(f"Video link: {link}")
    lines.append(f"Event: {clean_text(event.name)}")
    return summary, "\n".join(lines)


def _host(settings: Settings) -> str:
    return urlsplit(settings.base_url).hostname or "localhost"


def meeting_uid(event: Event, meeting: Meeting, settings: Settings | None = None) -> str:
    """Globally unique and the same in every version: the meeting's uid (it holds the event's
    slug) at this installation's host."""
    return f"{meeting.uid}@{_host(settings or get_settings())}"


def _vevent(
    event: Event, entry: CalendarEntry, viewer: Participant | None, settings: Settings
) -> icalendar.Event:
    meeting, zone = entry.meeting, ZoneInfo(event.timezone)
    summary, description = _texts(event, meeting, viewer)
    vevent = icalendar.Event()
    vevent.add("uid", meeting_uid(event, meeting, settings))
    vevent.add("dtstamp", entry.changed_at.astimezone(UTC))
    vevent.add("created", entry.created_at.astimezone(UTC))
    vevent.add("last-modified", entry.changed_at.astimezone(UTC))
    vevent.add("sequence", entry.sequence)
    vevent.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    vevent.add("dtstart", meeting.slot.start.replace(tzinfo=zone))
    vevent.add("dtend", meeting.slot.end.replace(tzinfo=zone))
    vevent.add("summary", ("Cancelled: " if entry.cancelled else "") + summary)
    vevent.add("description", description)
    vevent.add("location", _place(event, meeting))
    vevent.add("categories", [meeting.kind])
    vevent.add("transp", "TRANSPARENT" if entry.cancelled else "OPAQUE")
    vevent.add(
        "organizer",
        f"mailto:{settings.mail_from}",
        parameters={"CN": _clean_param(event.name)},
    )
    link = video_link(event, meeting)
    if link:
        vevent.add("url", link)
    return vevent


def _header(event: Event, name: str) -> list[tuple[str, Any, dict[str, str] | None]]:
    """The calendar's own properties, in order."""
    return [
        ("prodid", PRODID, None),
        ("version", "2.0", None),
        ("calscale", "GREGORIAN", None),
        ("method", "PUBLISH", None),
        ("x-wr-calname", clean_text(name), None),
        ("x-wr-timezone", event.timezone, None),
        ("refresh-interval", REFRESH_INTERVAL, {"VALUE": "DURATION"}),
        ("x-published-ttl", REFRESH_INTERVAL, None),
    ]


def build_calendar(
    event: Event,
    entries: Iterable[CalendarEntry],
    *,
    name: str,
    viewer: Participant | None = None,
    settings: Settings | None = None,
) -> icalendar.Calendar:
    """The feed as an icalendar object: what `_Writer` writes (feeds are written by it)."""
    settings = settings or get_settings()
    calendar = icalendar.Calendar()
    for prop, value, parameters in _header(event, name):
        calendar.add(prop, value, parameters=parameters or {})
    calendar.add_component(vtimezone(event))
    for entry in entries:
        calendar.add_component(_vevent(event, entry, viewer, settings))
    return calendar


#: A content line longer than this many octets is folded (RFC 5545, 3.1).
_FOLD_AT = 75
_BEGIN_EVENT, _END_EVENT = b"BEGIN:VEVENT\r\n", b"END:VEVENT\r\n"
_END_CALENDAR = b"END:VCALENDAR\r\n"


def _fold(line: str) -> bytes:
    """One content line, folded as icalendar folds it: before the character that would make a
    line part reach 75 octets, never inside a character, never right after a backslash or a
    caret (an escape stays whole with what it escapes)."""
    data = line.encode()
    if len(data) < _FOLD_AT:
        return data + b"\r\n"
    if len(data) == len(line):  # ASCII: one octet a character, parts of 74 characters
        start, ascii_parts = 0, []
        while len(line) - start >= _FOLD_AT:
            end = start + _FOLD_AT - 1
            if line[end - 1] in "\\^":
                end -= 1
            ascii_parts.append(line[start:end])
            start = end
        ascii_parts.append(line[start:])
        return "\r\n ".join(ascii_parts).encode() + b"\r\n"
    parts: list[str] = []
    part: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode())
        if part and size + width >= _FOLD_AT:
            carried = part.pop() if len(part) > 1 and part[-1] in "\\^" else ""
            parts.append("".join(part))
            part = [carried] if carried else []
            size = len(carried.encode())
        part.append(char)
        size += width
    parts.append("".join(part))
    return "\r\n ".join(parts).encode() + b"\r\n"


def _text_line(name: str, value: str) -> bytes:
    """A TEXT property's content line (RFC 5545 3.3.11 escapes, as icalendar writes them)."""
    escaped = (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )
    return _fold(f"{name}:{escaped}")


def _property_line(name: str, value: Any, parameters: dict[str, str]) -> bytes:
    """One property's content line(s) as icalendar writes it (a tuple value: a list)."""
    component = icalendar.Event()
    component.add(name, list(value) if isinstance(value, tuple) else value, parameters)
    written: bytes = component.to_ical()
    return written[len(_BEGIN_EVENT) : -len(_END_EVENT)]


class _Writer:
    """Writes feeds byte for byte as `build_calendar(...).to_ical()` would, faster: the values
    many events share (times, statuses, kinds, the organiser, the calendar's header and time
    zone) are written by icalendar once each; texts are escaped and folded here; an event that
    several feeds show alike (the event's and a location's) is written once."""

    def __init__(self, event: Event, settings: Settings) -> None:
        self.event = event
        self.settings = settings
        self.zone = ZoneInfo(event.timezone)
        self._lines: dict[tuple[str, Any, Any], bytes] = {}
        self._shared: dict[tuple[int, int, bool, datetime, datetime], bytes] = {}
        header = icalendar.Calendar()
        for name, value, parameters in _header(event, name=""):
            header.add(name, value, parameters=parameters or {})
        lines = header.to_ical()[: -len(_END_CALENDAR)].split(b"\r\n")
        # Before and after the calendar's name (the one line that differs between feeds).
        named = next(i for i, line in enumerate(lines) if line.startswith(b"X-WR-CALNAME"))
        self._head = b"\r\n".join(lines[:named]) + b"\r\n"
        self._tail = b"\r\n".join(lines[named + 1 :]) + vtimezone(event).to_ical()

    def line(self, name: str, value: Any, parameters: dict[str, str] | None = None) -> bytes:
        key = (name, value, tuple(sorted(parameters.items())) if parameters else None)
        made = self._lines.get(key)
        if made is None:
            made = self._lines[key] = _property_line(name, value, parameters or {})
        return made

    def calendar(
        self, entries: Iterable[CalendarEntry], name: str, viewer: Participant | None
    ) -> bytes:
        return b"".join(
            [
                self._head,
                # Not a TEXT value to icalendar: written as it is, folded.
                _fold(f"X-WR-CALNAME:{clean_text(name)}"),
                self._tail,
                *(self.vevent(entry, viewer) for entry in entries),
                _END_CALENDAR,
            ]
        )

    def vevent(self, entry: CalendarEntry, viewer: Participant | None) -> bytes:
        if viewer is not None:
            return self._vevent(entry, viewer)
        key = (
            id(entry.meeting),
            entry.sequence,
            entry.cancelled,
            entry.created_at,
            entry.changed_at,
        )
        written = self._shared.get(key)
        if written is None:
            written = self._shared[key] = self._vevent(entry, None)
        return written

    def _vevent(self, entry: CalendarEntry, viewer: Participant | None) -> bytes:
        event, meeting, settings = self.event, entry.meeting, self.settings
        summary, description = _texts(event, meeting, viewer)
        lines = {
            "UID": _text_line("UID", meeting_uid(event, meeting, settings)),
            "DTSTAMP": self.line("dtstamp", entry.changed_at.astimezone(UTC)),
            "CREATED": self.line("created", entry.created_at.astimezone(UTC)),
            "LAST-MODIFIED": self.line("last-modified", entry.changed_at.astimezone(UTC)),
            "SEQUENCE": self.line("sequence", entry.sequence),
            "STATUS": self.line("status", "CANCELLED" if entry.cancelled else "CONFIRMED"),
            "DTSTART": self.line("dtstart", meeting.slot.start.replace(tzinfo=self.zone)),
            "DTEND": self.line("dtend", meeting.slot.end.replace(tzinfo=self.zone)),
            "SUMMARY": _text_line("SUMMARY", ("Cancelled: " if entry.cancelled else "") + summary),
            "DESCRIPTION": _text_line("DESCRIPTION", description),
            "LOCATION": _text_line("LOCATION", _place(event, meeting)),
            "CATEGORIES": self.line("categories", (meeting.kind,)),
            "TRANSP": self.line("transp", "TRANSPARENT" if entry.cancelled else "OPAQUE"),
            "ORGANIZER": self.line(
                "organizer", f"mailto:{settings.mail_from}", {"CN": _clean_param(event.name)}
            ),
        }
        link = video_link(event, meeting)
        if link:
            lines["URL"] = self.line("url", link)
        # In the order icalendar writes a VEVENT's properties.
        return b"".join([_BEGIN_EVENT, *(lines[name] for name in _ordered(lines)), _END_EVENT])


@lru_cache(maxsize=8)
def _order(names: frozenset[str]) -> tuple[str, ...]:
    return tuple(canonsort_keys(names, icalendar.Event.canonical_order))


def _ordered(lines: dict[str, bytes]) -> tuple[str, ...]:
    """Property names in icalendar's order: its canonical ones first, then alphabetical."""
    return _order(frozenset(lines))


def _feed(body: bytes, entries: list[CalendarEntry], others: Iterable[datetime]) -> Served:
    # The body is deterministic (DTSTAMP is the publication time), so its hash is a true ETag.
    etag = strong_etag(body)
    moments = [e.changed_at for e in entries] + [aware(m) for m in others]
    # A cancelled meeting leaves every feed that shows it (a participant's, a location's, the
    # event's) `CANCELLED_RETENTION` after its change: the feed is good until the first such.
    leaving = [e.changed_at + CANCELLED_RETENTION for e in entries if e.cancelled]
    return Served(body, etag, max(moments) if moments else None, min(leaving) if leaving else None)


def _published_at(versions: list[ScheduleVersion]) -> list[datetime]:
    """The latest publication's time, as a list of none or one."""
    return [aware(versions[-1].published_at)] if versions and versions[-1].published_at else []


def _latest_publication(session: Session, event: Event) -> list[datetime]:
    return _published_at(published_versions(session, event))


def participant_feed(
    session: Session,
    participant: Participant,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> Served:
    """A participant's own meetings (their secret subscription URL)."""
    return _one_feed(
        session,
        participant.event,
        lambda m: participant.id in (m.participant_a_id, m.participant_b_id),
        [
            or_(
                Meeting.participant_a_id == participant.id,
                Meeting.participant_b_id == participant.id,
            )
        ],
        lambda writer, entries, versions: _participant_feed(writer, participant, entries, versions),
        settings=settings,
        now=now,
    )


def _participant_feed(
    writer: _Writer,
    participant: Participant,
    entries: list[CalendarEntry],
    versions: list[ScheduleVersion],
) -> Served:
    event = writer.event
    body = writer.calendar(entries, f"{event.name} – {participant.name}", participant)
    people = [participant.updated_at, event.updated_at]
    for entry in entries:
        people += [entry.meeting.participant_a.updated_at, entry.meeting.participant_b.updated_at]
    return _feed(body, entries, [*people, *_published_at(versions)])


def location_feed(
    session: Session,
    location: Location,
    day: date | None = None,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> Served:
    """A table's or room's meetings, of one day or all days (for table hosts and staff)."""
    return _one_feed(
        session,
        location.event,
        _at(location, day),
        [Meeting.location_id == location.id],
        lambda writer, entries, versions: _location_feed(writer, location, day, entries, versions),
        settings=settings,
        now=now,
    )


def _at(location: Location, day: date | None) -> MeetingFilter:
    """Whether a meeting is at `location` on `day` (any day: None)."""
    slot_ids = {s.id for s in location.event.slots if day is None or s.start.date() == day}

    def shows(meeting: Meeting) -> bool:
        return meeting.location_id == location.id and meeting.slot_id in slot_ids

    return shows


def _location_feed(
    writer: _Writer,
    location: Location,
    day: date | None,
    entries: list[CalendarEntry],
    versions: list[ScheduleVersion],
) -> Served:
    event = writer.event
    title = f"{event.name} – {location.name}" + (f" – {day.isoformat()}" if day else "")
    body = writer.calendar(entries, title, None)
    return _feed(body, entries, [event.updated_at, *_published_at(versions)])


def event_feed(
    session: Session,
    event: Event,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> Served:
    """Every meeting of the event (organisers)."""
    return _one_feed(session, event, _every, [], _event_feed, settings=settings, now=now)


def _every(_meeting: Meeting) -> bool:
    return True


def _event_feed(
    writer: _Writer, entries: list[CalendarEntry], versions: list[ScheduleVersion]
) -> Served:
    event = writer.event
    body = writer.calendar(entries, event.name, None)
    return _feed(body, entries, [event.updated_at, *_published_at(versions)])


def _writer(event: Event, settings: Settings | None) -> _Writer:
    return _Writer(event, settings or get_settings())


def _one_feed(
    session: Session,
    event: Event,
    shows: MeetingFilter,
    candidates: Sequence[ColumnElement[bool]],
    render: Callable[[_Writer, list[CalendarEntry], list[ScheduleVersion]], Served],
    *,
    settings: Settings | None,
    now: datetime | None,
) -> Served:
    """One feed on its own: the meetings `shows` accepts (see `calendar_entries`) of the
    published versions, rendered by `render` as `every_feed` renders each of them in bulk."""
    versions = published_versions(session, event)
    entries = calendar_entries(session, event, shows, candidates, now=now, versions=versions)
    return render(_writer(event, settings), entries, versions)


#: What `every_feed` yields: the feed's kind, its participant or location, its day, the feed.
FeedOf = tuple[Literal["calendar", "location", "event"], Participant | Location | None, date | None]


def every_feed(
    session: Session,
    event: Event,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> Iterator[tuple[FeedOf, Served]]:
    """Every feed of the event as `participant_feed`, `location_feed` and `event_feed` render
    them one by one, from one read of the published versions' meetings: each participant's,
    each location's of all days and of each day, and the event's."""
    versions = published_versions(session, event)
    history = meeting_history(session, versions) if versions else MeetingHistory(versions, {})
    now = now or datetime.now(UTC)
    writer = _writer(event, settings)
    of_participant: dict[int, set[str]] = {}
    of_location: dict[int, set[str]] = {}
    for meetings in history.by_version.values():
        for uid, meeting in meetings.items():
            of_participant.setdefault(meeting.participant_a_id, set()).add(uid)
            of_participant.setdefault(meeting.participant_b_id, set()).add(uid)
            of_location.setdefault(meeting.location_id, set()).add(uid)
    participants = session.scalars(
        select(Participant)
        .where(Participant.event_id == event.id)
        .options(joinedload(Participant.organisation, innerjoin=True))
        .order_by(Participant.id)
    )
    for participant in participants:
        pid = participant.id
        entries = history.entries(
            of_participant.get(pid, ()),
            lambda m, pid=pid: pid in (m.participant_a_id, m.participant_b_id),  # type: ignore[misc]
            now,
        )
        feed = _participant_feed(writer, participant, entries, versions)
        yield ("calendar", participant, None), feed
    days: list[date | None] = [None, *slot_days(event)]
    for location in sorted(event.locations, key=lambda loc: loc.id):
        for day in days:
            entries = history.entries(of_location.get(location.id, ()), _at(location, day), now)
            feed = _location_feed(writer, location, day, entries, versions)
            yield ("location", location, day), feed
    entries = history.entries(history.uids(), _every, now)
    yield ("event", None, None), _event_feed(writer, entries, versions)


def slot_days(event: Event) -> list[date]:
    """The event's days (for choosing a location's day feed)."""
    return sorted({slot.start.date() for slot in event.slots})
