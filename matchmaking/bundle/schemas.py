"""Pydantic models of the public bundle and schedule formats (docs/bundle-format.md, v1).

These models check the shape of each value (types, patterns, ranges, sizes). Checks that need
the whole document (references, unique ids, overlapping slots, `after` cycles) live in
`validate.py`, which reports every problem of a document at once.

Unknown fields are ignored and never stored: the format lets newer writers add optional
fields, and an older reader must still read their bundles. Field order in the models is the
order `dump_bundle` writes, which is the order the format document shows.

Optional fields beyond the format document (additive; older readers ignore them):
`event.description`, `event.video_base_url`, `rules.max_meetings_total`, `locations[].url`,
`organisations[].website`, `participants[].job_title`, `.timezone` and `.listed`,
`wishes[].message`, the wish status `cancelled` (a withdrawn wish, never scheduled), and
`conflicts` in the schedule document. The cooperation profile fields `organisations[].offers`,
`.seeks`, `.delegation` and `rules.cross_delegation_only` are in profiles-and-sheets.md.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Final, Literal

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

from matchmaking.platform.text import has_visible_character

BUNDLE_FORMAT: Final = "matchmaking-bundle/1"
SCHEDULE_FORMAT: Final = "matchmaking-schedule/1"

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


def _without_control_characters(pattern: re.Pattern[str], message: str) -> Callable[[str], str]:
    """A validator refusing a text in which `pattern` finds a control character."""

    def check(value: str) -> str:
        if pattern.search(value):
            raise PydanticCustomError("control_character", message)
        return value

    return check


_no_control_characters = _without_control_characters(
    _CONTROL, "must not contain control characters (tabs, line breaks, ...)"
)
_text_without_control_characters = _without_control_characters(
    _CONTROL_EXCEPT_NEWLINES, "must not contain control characters other than line breaks"
)


def _visible(value: str) -> str:
    if not has_visible_character(value):
        raise PydanticCustomError(
            "invisible_name", "must contain a visible character, not only spaces or invisible ones"
        )
    return value


def _empty_to_none(value: Any) -> Any:
    # "" and an absent optional text mean the same; keeping one spelling makes dumps stable.
    return None if value == "" else value


@lru_cache(maxsize=1024)
def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    # OSError: a name too long for a file name of the zone database ("File name too long").
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
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
    return _parse_date_time(
        value,
        "local_time",
        _LOCAL_TIME,
        'a local time "YYYY-MM-DDTHH:MM" in the event time zone, without offset',
        offset=False,
    )


def _format_local_time(value: datetime) -> str:
    return value.isoformat(timespec="seconds" if value.second else "minutes")


def _parse_instant(value: Any) -> Any:
    return _parse_date_time(
        value,
        "rfc3339",
        _RFC3339,
        'an RFC 3339 date-time with offset, like "2024-05-28T23:59:00-04:00"',
        offset=True,
    )


def _parse_date_time(
    value: Any, code: str, pattern: re.Pattern[str], shape: str, *, offset: bool
) -> Any:
    """`value` as a datetime with a UTC offset or without one (as `offset` says): a datetime
    already, or text that `pattern` matches; else an error `code` saying it must be `shape`."""
    if isinstance(value, datetime):
        if offset and value.tzinfo is None:
            raise PydanticCustomError(code, "must have a UTC offset")
        if not offset and value.tzinfo is not None:
            raise PydanticCustomError(code, "must be a local time without offset")
        return value
    if not isinstance(value, str) or not pattern.match(value):
        raise PydanticCustomError(
            code, f"must be {shape}; got {{value}}", {"value": json.dumps(value, default=str)}
        )
    try:
        # RFC 3339 allows a lower-case "t" and "z"; "Z" is "+00:00" to `fromisoformat`.
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise PydanticCustomError(
            code, "is not a valid date and time: {error}", {"error": str(exc)}
        ) from None


# --- reusable field types -------------------------------------------------------------------

Id = Annotated[
    str,
    # 1-64 letters, digits, ".", "_", ":" or "-": safe in URLs, file names and calendar UIDs.
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_NAME),
    AfterValidator(_no_control_characters),
    AfterValidator(_visible),
]
OptionalName = Annotated[Name | None, BeforeValidator(_empty_to_none)]
Text = Annotated[
    Annotated[
        str,
        StringConstraints(max_length=MAX_TEXT),
        AfterValidator(_text_without_control_characters),
    ]
    | None,
    BeforeValidator(_empty_to_none),
]
Url = Annotated[
    Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://\S+$")] | None,
    BeforeValidator(_empty_to_none),
]
Email = Annotated[
    Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None,
    BeforeValidator(_empty_to_none),
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
#: `organisations[].offers` and `.seeks` (docs/bundle-format.md, cooperation profiles).
MAX_PHRASE = 200
MAX_PHRASES = 30
MAX_DELEGATION = 100
Phrase = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_PHRASE),
    AfterValidator(_no_control_characters),
]


def _empty_list_to_none(value: Any) -> Any:
    # No phrases and an absent list mean the same; one spelling keeps dumps stable.
    return None if value == [] else value


Phrases = Annotated[
    Annotated[list[Phrase], Field(max_length=MAX_PHRASES)] | None,
    BeforeValidator(_empty_list_to_none),
]
Delegation = Annotated[
    Annotated[
        str,
        StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_DELEGATION),
        AfterValidator(_no_control_characters),
    ]
    | None,
    BeforeValidator(_empty_to_none),
]


class _Model(BaseModel):
    # Field docstrings become the descriptions of the published JSON Schemas.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, use_attribute_docstrings=True)


# --- the bundle -------------------------------------------------------------------------------


class Rules(_Model):
    """Rules of the solve."""

    max_meetings_per_participant: int | None = Field(default=None, ge=0)
    """Default cap for participants without their own `max_meetings`."""
    max_break_difference: int | None = Field(default=None, ge=0)
    """Fairness cap d: no participant may have more than d breaks above the participant with
    the fewest."""
    objective: list[GoalName] | None = Field(default=None, min_length=1, max_length=5)
    """Lexicographic order of the goals; default required, scheduled, fairness, breaks,
    stability."""
    max_meetings_total: int | None = Field(default=None, ge=0)
    """Cap on the number of meetings of the whole event (optional addition to v1)."""
    cross_delegation_only: bool | None = None
    """When true, two participants of the same delegation never meet; participants with no
    delegation may meet anyone. Default false."""


class EventIn(_Model):
    """The event."""

    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{3,64}$")]
    """Unique per installation: 3-64 lowercase letters, digits or "-"."""
    name: Name
    timezone: Zone
    """IANA zone; every slot time is local time in this zone (no offset written)."""
    venue: OptionalName = None
    mode: EventMode = "onsite"
    registration_closes: Instant | None = None
    """RFC 3339 date-time with offset."""
    focus_areas: Tags = Field(default_factory=list)
    rules: Rules = Field(default_factory=Rules)
    description: Text = None
    """Optional addition to v1."""
    video_base_url: Url = None
    """Base URL of video rooms for online meetings (optional addition to v1)."""


class SlotIn(_Model):
    """A meeting slot; slots of an event never overlap."""

    id: Id
    """Unique across all sessions of the event."""
    start: LocalDateTime
    end: LocalDateTime
    """After `start`."""


class SessionIn(_Model):
    """A named block of consecutive slots, listed in chronological order."""

    id: Id
    name: Name
    slots: list[SlotIn] = Field(min_length=1, max_length=MAX_SLOTS)


class LocationIn(_Model):
    """A table, room or online (video) location."""

    id: Id
    name: Name
    kind: LocationKind
    capacity: int = Field(default=1, ge=1, le=100_000)
    """Meetings it holds at once."""
    url: Url = None
    """Video link of an online location (optional addition to v1)."""


class OrganisationIn(_Model):
    """An organisation: `cluster` (cluster organisation or business network) or another kind."""

    id: Id
    name: Name
    kind: OrganisationKind
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    """ISO 3166-1 alpha-2 code."""
    sectors: Tags = Field(default_factory=list)
    description: Text = None
    website: Url = None
    """Optional addition to v1."""
    offers: Phrases = None
    """Short phrases (each at most 200 characters, at most 30): what the organisation
    offers — expertise, products, services, technologies."""
    seeks: Phrases = None
    """Short phrases, same limits: what it looks for — partners, suppliers, customers,
    investors, technologies."""
    delegation: Delegation = None
    """The side it attends with, free text of at most 100 characters ("EU", "Canada");
    absent = none."""


class ParticipantIn(_Model):
    """A person of an organisation who takes part in the event."""

    id: Id
    name: Name
    organisation: Id
    email: Email = None
    attendance: Attendance | None = None
    """`onsite` or `online`; default from the event mode (online events: online, else
    onsite). A parsed bundle always has it filled in."""
    unavailable: list[Id] = Field(default_factory=list, max_length=MAX_SLOTS)
    """Slot ids in which this participant cannot meet."""
    max_meetings: int | None = Field(default=None, ge=0)
    """This participant's cap."""
    host_location: Id | None = None
    """The participant stays at this location; all its onsite meetings are held there."""
    job_title: OptionalName = None
    """Optional addition to v1."""
    timezone: Annotated[Zone | None, BeforeValidator(_empty_to_none)] = None
    """The participant's own IANA zone for its agenda (optional addition to v1)."""
    listed: bool = False
    """Consents to be listed in the public directory (optional addition to v1)."""


class WishIn(_Model):
    """A wish of one participant to meet a participant or an organisation."""

    id: Id
    from_: Id = Field(alias="from")
    """The participant who asks."""
    to: Id | None = None
    """A participant; exactly one of `to` and `to_organisation`."""
    to_organisation: Id | None = None
    """An organisation whose representatives may any of them take the meeting."""
    priority: Literal[1, 2, 3] = 2
    """1 must meet, 2 want to meet, 3 nice to meet."""
    status: WishStatus = "accepted"
    """Only accepted wishes are scheduled (`cancelled` is an optional addition to v1)."""
    required: bool = False
    """The meeting must take place; a schedule without it is infeasible."""
    session: Id | None = None
    """The meeting must be held in this session."""
    fixed_slot: Id | None = None
    """The meeting must be held in this slot."""
    after: list[Id] = Field(default_factory=list, max_length=1_000)
    """Wish ids whose meetings must be held strictly earlier."""
    separate: bool = False
    """A meeting of its own even when the same two participants meet for another wish."""
    message: Text = None
    """The sender's note to the recipient (optional addition to v1)."""


class Bundle(_Model):
    """A whole matchmaking event (format matchmaking-bundle/1)."""

    format: Literal["matchmaking-bundle/1"]
    event: EventIn
    sessions: list[SessionIn] = Field(min_length=1, max_length=MAX_SESSIONS)
    locations: list[LocationIn] = Field(default_factory=list, max_length=MAX_LOCATIONS)
    organisations: list[OrganisationIn] = Field(default_factory=list, max_length=MAX_ORGANISATIONS)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=MAX_PARTICIPANTS)
    wishes: list[WishIn] = Field(default_factory=list, max_length=MAX_WISHES)

    def slots(self) -> list[SlotIn]:
        """Every slot of the event, in chronological order."""
        every = [slot for session in self.sessions for slot in session.slots]
        return sorted(every, key=lambda slot: slot.start)


# --- the schedule -------------------------------------------------------------------------------


class MeetingOut(_Model):
    """A meeting: two participants in one slot at one location."""

    wishes: list[str] = Field(min_length=1)
    """Every wish it meets (two when both sides asked)."""
    slot: str
    location: str
    participants: list[str] = Field(min_length=2, max_length=2)
    kind: MeetingKind
    """Derived from the organisations' kinds: two clusters C2C, a cluster and another C2B,
    else B2B."""


class UnscheduledOut(_Model):
    """An accepted wish that is in no meeting, and why."""

    wish: str
    reason: str
    """A code: no_common_slot, participant_at_cap, lost_to_higher_priority, ..."""
    detail: str
    """A sentence a participant understands."""


class ConflictOut(_Model):
    """Part of a small set of required wishes and rules that cannot all hold together."""

    wishes: list[str]
    rule: str
    detail: str


class ScheduleDoc(_Model):
    """The result of a solve (format matchmaking-schedule/1)."""

    format: Literal["matchmaking-schedule/1"]
    event: str
    """The event's slug."""
    status: SolveStatus
    """optimal (every goal proven), feasible (valid, not proven best), infeasible (the
    required meetings cannot all be held) or unknown (time ran out before any schedule)."""
    objective: dict[str, int | float] = Field(default_factory=dict)
    """Achieved value of each goal: required, scheduled, scheduled_weight, min_share, breaks,
    moved."""
    bound: dict[str, int | float] = Field(default_factory=dict)
    """Best proven bound for each goal that was optimised."""
    solve_seconds: float = Field(ge=0)
    meetings: list[MeetingOut] = Field(default_factory=list)
    unscheduled: list[UnscheduledOut] = Field(default_factory=list)
    conflicts: list[ConflictOut] = Field(default_factory=list)
    """For an infeasible event: required wishes and rules that cannot all hold together
    (optional addition to v1, written only when not empty)."""
