"""Pydantic models of the public bundle and schedule formats (docs/bundle-format.md, v1).

These models check the shape of each value (types, patterns, ranges, sizes). Checks that need
the whole document (references, unique ids, overlapping slots, `after` cycles) live in
`validate.py`, which reports every problem of a document at once.

Unknown fields are ignored and never stored: the format lets newer writers add optional
fields, and an older reader must still read their bundles. Field order in the models is the
order `dump_bundle` writes, which is the order the format document shows.

Optional fields beyond the format document (additive, all optional): `event.description`,
`event.video_base_url`, `rules.max_meetings_total`, `sessions[].name` is required as shown,
`locations[].url`, `organisations[].website`, `participants[].job_title`, `.timezone`,
`.listed`, `wishes[].message`, wish status `cancelled` (a withdrawn wish, never scheduled), and
`conflicts` in the schedule document.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

BUNDLE_FORMAT = "matchmaking-bundle/1"
SCHEDULE_FORMAT = "matchmaking-schedule/1"

#: Sane size limits: far above the largest real events, low enough to refuse runaway input.
MAX_SLOTS = 10_000
MAX_SESSIONS = 1_000
MAX_LOCATIONS = 10_000
MAX_ORGANISATIONS = 100_000
MAX_PARTICIPANTS = 100_000
MAX_WISHES = 100_000
MAX_NAME = 300
MAX_TEXT = 20_000
MAX_TAGS = 100

GoalName = Literal["required", "scheduled", "fairness", "breaks", "stability"]
EventMode = Literal["onsite", "online", "hybrid"]
LocationKind = Literal["table", "room", "online"]
OrganisationKind = Literal["cluster", "company", "research", "public", "other"]
Attendance = Literal["onsite", "online"]
WishStatus = Literal["accepted", "requested", "declined", "cancelled"]
SolveStatus = Literal["optimal", "feasible", "infeasible", "unknown"]
MeetingKind = Literal["C2C", "C2B", "B2B"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_character", "must not contain control characters (tabs, line breaks, ...)"
        )
    return value


def _text_without_control_characters(value: str) -> str:
    if _CONTROL_EXCEPT_NEWLINES.search(value):
        raise PydanticCustomError(
            "control_character", "must not contain control characters other than line breaks"
        )
    return value


def _empty_to_none(value: Any) -> Any:
    # "" and an absent optional text mean the same; keeping one spelling makes dumps stable.
    return None if value == "" else value


@lru_cache(maxsize=1024)
def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _iana_zone(value: str) -> str:
    if not _zone_exists(value):
        raise PydanticCustomError(
            "timezone",
            'unknown time zone "{zone}"; use an IANA name like "Europe/Berlin"',
            {"zone": value},
        )
    return value


_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _parse_local_time(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise PydanticCustomError("local_time", "must be a local time without offset")
        return value
    if not isinstance(value, str) or not _LOCAL_TIME.match(value):
        raise PydanticCustomError(
            "local_time",
            'must be a local time "YYYY-MM-DDTHH:MM" in the event time zone, without offset; '
            "got {value!r}",
            {"value": value},
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "local_time", "is not a valid date and time: {error}", {"error": str(exc)}
        ) from None


def _format_local_time(value: datetime) -> str:
    return value.isoformat(timespec="seconds" if value.second else "minutes")


def _parse_instant(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PydanticCustomError("rfc3339", "must have a UTC offset")
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise PydanticCustomError(
            "rfc3339",
            'must be an RFC 3339 date-time with offset, like "2024-05-28T23:59:00-04:00"; '
            "got {value!r}",
            {"value": value},
        )
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise PydanticCustomError(
            "rfc3339", "is not a valid date and time: {error}", {"error": str(exc)}
        ) from None


# --- reusable field types -------------------------------------------------------------------

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
    Field(description="An id, unique in its collection: 1-64 letters, digits, . _ : -"),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_NAME),
    AfterValidator(_no_control_characters),
]
OptionalName = Annotated[Name | None, BeforeValidator(_empty_to_none)]
Text = Annotated[
    str | None,
    BeforeValidator(_empty_to_none),
    StringConstraints(max_length=MAX_TEXT),
    AfterValidator(lambda v: None if v is None else _text_without_control_characters(v)),
]
Url = Annotated[
    str | None,
    BeforeValidator(_empty_to_none),
    StringConstraints(max_length=500, pattern=r"^https?://\S+$"),
]
Email = Annotated[
    str | None,
    BeforeValidator(_empty_to_none),
    StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Zone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_iana_zone)]
LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_parse_local_time),
    PlainSerializer(_format_local_time, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _LOCAL_TIME.pattern,
            "description": "Local time in the event time zone, without offset",
            "examples": ["2024-09-10T09:00"],
        }
    ),
]
Instant = Annotated[
    datetime,
    BeforeValidator(_parse_instant),
    PlainSerializer(lambda v: v.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _RFC3339.pattern}),
]
Tags = Annotated[list[Name], Field(max_length=MAX_TAGS)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=False)


# --- the bundle -------------------------------------------------------------------------------


class Rules(_Model):
    max_meetings_per_participant: int | None = Field(default=None, ge=0)
    max_break_difference: int | None = Field(default=None, ge=0)
    objective: list[GoalName] | None = Field(default=None, min_length=1, max_length=5)
    #: Cap on the number of meetings of the whole event (not in the v1 document; optional).
    max_meetings_total: int | None = Field(default=None, ge=0)


class EventIn(_Model):
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{3,64}$")]
    name: Name
    timezone: Zone
    venue: OptionalName = None
    mode: EventMode = "onsite"
    registration_closes: Instant | None = None
    focus_areas: Tags = Field(default_factory=list)
    rules: Rules = Field(default_factory=Rules)
    description: Text = None
    video_base_url: Url = None


class SlotIn(_Model):
    id: Id
    start: LocalDateTime
    end: LocalDateTime


class SessionIn(_Model):
    id: Id
    name: Name
    slots: list[SlotIn] = Field(min_length=1, max_length=MAX_SLOTS)


class LocationIn(_Model):
    id: Id
    name: Name
    kind: LocationKind
    capacity: int = Field(default=1, ge=1, le=100_000)
    url: Url = None


class OrganisationIn(_Model):
    id: Id
    name: Name
    kind: OrganisationKind
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    sectors: Tags = Field(default_factory=list)
    description: Text = None
    website: Url = None


class ParticipantIn(_Model):
    id: Id
    name: Name
    organisation: Id
    email: Email = None
    #: Default from the event mode (online → online, onsite and hybrid → onsite); `parse_bundle`
    #: fills it in, so a parsed bundle always has it.
    attendance: Attendance | None = None
    unavailable: list[Id] = Field(default_factory=list, max_length=MAX_SLOTS)
    max_meetings: int | None = Field(default=None, ge=0)
    host_location: Id | None = None
    job_title: OptionalName = None
    timezone: Annotated[Zone | None, BeforeValidator(_empty_to_none)] = None
    listed: bool = False


class WishIn(_Model):
    id: Id
    from_: Id = Field(alias="from")
    to: Id | None = None
    to_organisation: Id | None = None
    priority: Literal[1, 2, 3] = 2
    status: WishStatus = "accepted"
    required: bool = False
    session: Id | None = None
    fixed_slot: Id | None = None
    after: list[Id] = Field(default_factory=list, max_length=1_000)
    separate: bool = False
    message: Text = None


class Bundle(_Model):
    format: Literal["matchmaking-bundle/1"]
    event: EventIn
    sessions: list[SessionIn] = Field(min_length=1, max_length=MAX_SESSIONS)
    locations: list[LocationIn] = Field(default_factory=list, max_length=MAX_LOCATIONS)
    organisations: list[OrganisationIn] = Field(default_factory=list, max_length=MAX_ORGANISATIONS)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)
    wishes: list[WishIn] = Field(default_factory=list, max_length=MAX_WISHES)

    def slots(self) -> list[SlotIn]:
        """Every slot of the event, in chronological order."""
        return sorted(
            (s for session in self.sessions for s in session.slots), key=lambda s: s.start
        )


# --- the schedule -------------------------------------------------------------------------------


class MeetingOut(_Model):
    wishes: list[str] = Field(min_length=1)
    slot: str
    location: str
    participants: list[str] = Field(min_length=2, max_length=2)
    kind: MeetingKind


class UnscheduledOut(_Model):
    wish: str
    #: A code: no_common_slot, participant_at_cap, required_conflict, ...
    reason: str
    detail: str


class ConflictOut(_Model):
    wishes: list[str]
    rule: str
    detail: str


class ScheduleDoc(_Model):
    format: Literal["matchmaking-schedule/1"]
    event: str
    status: SolveStatus
    #: Achieved value of each goal: required, scheduled, scheduled_weight, min_share, breaks, moved.
    objective: dict[str, int | float] = Field(default_factory=dict)
    #: Best proven bound for each optimised goal.
    bound: dict[str, int | float] = Field(default_factory=dict)
    solve_seconds: float = Field(ge=0)
    meetings: list[MeetingOut] = Field(default_factory=list)
    unscheduled: list[UnscheduledOut] = Field(default_factory=list)
    #: For an infeasible event: required wishes and rules that cannot all hold together.
    conflicts: list[ConflictOut] = Field(default_factory=list)
