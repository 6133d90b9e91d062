"""Events, roles, sessions, slots, locations: what organisers send and get back."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from api.schemas.common import (
    Instant,
    InstantIn,
    Line,
    LocalTime,
    Name,
    Orm,
    Paragraphs,
    SlotTime,
    WebUrl,
)
from matchmaking.organising import event_checks as checks
from matchmaking.platform.models import (
    EventMode,
    EventRoleName,
    EventStatus,
    LocationKind,
    WishPolicy,
)

Slug = Annotated[
    str,
    Field(
        pattern=checks.SLUG_PATTERN, examples=["eu-canada-2024"], description="`[a-z0-9-]{3,64}`"
    ),
]
Key = Annotated[
    str,
    Field(
        pattern=checks.KEY_PATTERN,
        examples=["d1-am"],
        description="Identifier within the event (the bundle's `id`).",
    ),
]
Goal = Literal["required", "scheduled", "fairness", "breaks", "stability"]
Text200 = Annotated[Name, Field(min_length=1, max_length=checks.NAME_MAX)]
Tag = Annotated[Name, Field(min_length=1, max_length=checks.FOCUS_AREA_MAX)]


class Rules(BaseModel):
    """The solver's rules of the event (the bundle's `event.rules`)."""

    model_config = ConfigDict(extra="forbid")

    max_meetings_per_participant: StrictInt | None = Field(
        default=None, ge=checks.MEETINGS_CAP[0], le=checks.MEETINGS_CAP[1], examples=[12]
    )
    max_break_difference: StrictInt | None = Field(
        default=None, ge=checks.BREAK_DIFFERENCE[0], le=checks.BREAK_DIFFERENCE[1], examples=[2]
    )
    max_meetings_total: StrictInt | None = Field(
        default=None,
        ge=checks.MEETINGS_TOTAL_CAP[0],
        le=checks.MEETINGS_TOTAL_CAP[1],
        description="Cap on the meetings of the whole event.",
    )
    objective: list[Goal] | None = Field(
        default=None,
        examples=[["required", "scheduled", "fairness", "breaks", "stability"]],
        description="Lexicographic order of the goals; default: the order shown.",
    )
    cross_delegation_only: StrictBool | None = Field(
        default=None,
        description="When true, two participants of the same delegation never meet "
        "(participants with no delegation may meet anyone); default false.",
    )

    @model_validator(mode="after")
    def _goals_once(self) -> Rules:
        for problem in checks.check_rules({"objective": self.objective}):
            raise ValueError(f"objective {problem.message}")
        return self


class _EventFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Paragraphs = Field(default="", max_length=checks.DESCRIPTION_MAX)
    venue: Line = Field(
        default="", max_length=checks.VENUE_MAX, examples=["Palais des congrès, Montréal"]
    )
    mode: EventMode = EventMode.onsite
    registration_closes: InstantIn | None = Field(
        default=None, examples=["2030-05-28T23:59:00-04:00"]
    )
    focus_areas: list[Tag] = Field(
        default_factory=list,
        max_length=checks.FOCUS_AREAS_MAX,
        examples=[["Artificial Intelligence"]],
    )
    rules: Rules = Field(default_factory=Rules)
    wish_policy: WishPolicy = Field(
        default=WishPolicy.recipient_accepts,
        description="`recipient_accepts`: a wish waits for the recipient's answer; "
        "`auto_accept`: wishes are accepted when sent.",
    )
    max_requests_per_participant: StrictInt | None = Field(
        default=None,
        ge=checks.REQUESTS_CAP[0],
        le=checks.REQUESTS_CAP[1],
        description="How many open wishes one participant may send.",
    )
    wish_cutoff: InstantIn | None = Field(
        default=None, description="After this instant no wish may be sent, withdrawn or answered."
    )
    video_base_url: WebUrl = ""


class EventCreate(_EventFields):
    slug: Slug
    name: Text200 = Field(examples=["EU–Canada Cluster Matchmaking"])
    timezone: str = Field(min_length=1, max_length=64, examples=["America/Toronto"])


class EventUpdate(BaseModel):
    """Only the fields sent are changed; `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    description: Paragraphs | None = Field(default=None, max_length=checks.DESCRIPTION_MAX)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    venue: Line | None = Field(default=None, max_length=checks.VENUE_MAX)
    mode: EventMode | None = None
    registration_closes: InstantIn | None = None
    focus_areas: list[Tag] | None = Field(default=None, max_length=checks.FOCUS_AREAS_MAX)
    rules: Rules | None = None
    wish_policy: WishPolicy | None = None
    max_requests_per_participant: StrictInt | None = Field(
        default=None, ge=checks.REQUESTS_CAP[0], le=checks.REQUESTS_CAP[1]
    )
    wish_cutoff: InstantIn | None = None
    video_base_url: WebUrl | None = None


#: Fields of EventUpdate that may be cleared with null; the others only take values.
EVENT_NULLABLE = frozenset({"registration_closes", "max_requests_per_participant", "wish_cutoff"})


class RulesOut(Rules):
    model_config = ConfigDict(extra="allow")

    cross_delegation_only: StrictBool = False


class Counts(BaseModel):
    sessions: StrictInt
    slots: StrictInt
    locations: StrictInt
    organisations: StrictInt
    participants: StrictInt
    wishes: dict[str, int] = Field(examples=[{"requested": 3, "accepted": 40, "declined": 2}])


# What organisers and everyone else are both shown of an event, first in both answers.
class _EventShown(Orm):
    slug: str
    name: str
    description: str
    timezone: str
    venue: str
    mode: EventMode
    status: EventStatus


class EventOut(_EventShown):
    registration_closes: Instant | None
    focus_areas: list[str]
    rules: RulesOut
    wish_policy: WishPolicy
    max_requests_per_participant: StrictInt | None
    wish_cutoff: Instant | None
    video_base_url: str
    created_at: Instant
    updated_at: Instant
    role: EventRoleName | None = Field(default=None, description="The caller's role.")
    counts: Counts | None = None


class SlotOut(Orm):
    key: str
    start: LocalTime
    end: LocalTime
    session: str = Field(description="Key of the slot's session.")


class SessionOut(BaseModel):
    key: str
    name: str
    position: StrictInt
    slots: list[SlotOut]


class EventPublic(_EventShown):
    """What anyone may know about an event that is not a draft: enough to register."""

    registration_open: StrictBool
    registration_closes: Instant | None
    wish_cutoff: Instant | None
    wish_policy: WishPolicy
    max_requests_per_participant: StrictInt | None
    focus_areas: list[str]
    sessions: list[SessionOut]


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254, examples=["staff@cluster-events.eu"])
    role: EventRoleName = EventRoleName.staff


class RoleOut(BaseModel):
    organiser_id: StrictInt
    email: str
    name: str
    role: EventRoleName


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    name: Text200 = Field(examples=["Day 1 morning"])
    position: StrictInt | None = Field(default=None, ge=0, le=1_000_000)


class SessionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    position: StrictInt | None = Field(default=None, ge=0, le=1_000_000)


class SlotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key | None = Field(default=None, description="Default: the next free `s<n>`.")
    start: SlotTime = Field(examples=["2030-09-10T09:00"])
    end: SlotTime = Field(examples=["2030-09-10T09:20"])


class SlotUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: SlotTime | None = None
    end: SlotTime | None = None


class SlotGenerate(BaseModel):
    """Meetings of `meeting_minutes`, each followed by `pause_minutes`, from start to end."""

    model_config = ConfigDict(extra="forbid")

    start: SlotTime = Field(examples=["2030-09-10T09:00"])
    end: SlotTime = Field(examples=["2030-09-10T12:30"])
    meeting_minutes: StrictInt = Field(
        ge=checks.MEETING_MINUTES[0], le=checks.MEETING_MINUTES[1], examples=[20]
    )
    pause_minutes: StrictInt = Field(
        default=0, ge=checks.PAUSE_MINUTES[0], le=checks.PAUSE_MINUTES[1], examples=[5]
    )
    replace: StrictBool = Field(default=False, description="Remove the session's slots first.")

    @model_validator(mode="after")
    def _end_after_start(self) -> SlotGenerate:
        for problem in checks.check_span(self.start, self.end):
            raise ValueError(f"{problem.field} {problem.message}")
        return self


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key = Field(examples=["t1"])
    name: Text200 = Field(examples=["Table 1"])
    kind: LocationKind = LocationKind.table
    capacity: StrictInt = Field(default=1, ge=checks.CAPACITY[0], le=checks.CAPACITY[1])
    url: WebUrl = ""
    position: StrictInt | None = Field(default=None, ge=0, le=1_000_000)


class LocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    kind: LocationKind | None = None
    capacity: StrictInt | None = Field(default=None, ge=checks.CAPACITY[0], le=checks.CAPACITY[1])
    url: WebUrl | None = None
    position: StrictInt | None = Field(default=None, ge=0, le=1_000_000)


class LocationOut(Orm):
    key: str
    name: str
    kind: LocationKind
    capacity: StrictInt
    url: str
    position: StrictInt
