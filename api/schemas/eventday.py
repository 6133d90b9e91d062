"""Request and response shapes of the event day: check-in, attendance, door lists, feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.schemas.common import Instant, LocalTime, Page
from api.schemas.schedules import JobOut


class CheckInOut(BaseModel):
    participant: str = Field(description="The participant's key.", examples=["p17"])
    name: str
    organisation: str
    country: str
    arrived: bool
    arrived_at: Instant | None = Field(description="When staff marked them arrived (UTC).")


class CheckInPage(Page[CheckInOut]):
    arrived_total: int = Field(description="How many participants of the event have arrived.")


class AttendanceIn(BaseModel):
    """Held, or a no-show; `absent` says who did not come (a participant's key)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["held", "no_show"]
    absent: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="For a no-show: the key of the side that did not come. Left out by a "
        "participant, it means the other side; left out by staff, neither came.",
    )


class AttendanceOut(BaseModel):
    uid: str = Field(description="The meeting's uid.")
    outcome: Literal["held", "no_show"] | None = Field(description="None while unmarked.")
    absent: str | None
    marked_by: Literal["staff", "participant"] | None
    marked_at: Instant | None


class DayMeetingOut(BaseModel):
    """A published meeting on the day, with its attendance."""

    uid: str
    session: str
    starts: LocalTime
    ends: LocalTime
    location_name: str
    kind: str
    participants: list[str] = Field(description="Keys of the two participants.")
    names: list[str]
    organisations: list[str]
    attendance: AttendanceOut


class _FromDoorLists(BaseModel):
    # Validated from the domain's door lists (`matchmaking.onsite.door_lists`), which name
    # some fields differently (the aliases); the answers keep the names below.
    model_config = ConfigDict(validate_by_name=True)


class DoorPersonOut(_FromDoorLists):
    participant: str = Field(description="The participant's key.", validation_alias="key")
    name: str
    organisation: str
    arrived: bool = Field(description="Checked in at the venue.")


class DoorRowOut(_FromDoorLists):
    uid: str
    starts: LocalTime = Field(validation_alias="start")
    ends: LocalTime = Field(validation_alias="end")
    people: list[DoorPersonOut]


class DoorListOut(_FromDoorLists):
    """Who meets at one table or room during one session, by time."""

    location: str
    location_name: str
    session: str
    session_name: str
    starts: LocalTime = Field(validation_alias="start")
    ends: LocalTime = Field(validation_alias="end")
    meetings: list[DoorRowOut] = Field(validation_alias="rows")


class FeedbackIn(BaseModel):
    """The three questions after a meeting."""

    model_config = ConfigDict(extra="forbid")

    usefulness: int = Field(ge=1, le=5, description="How useful the meeting was, 1 to 5.")
    follow_up: Literal["yes", "no", "maybe"] = Field(description="A follow-up is planned.")
    cooperation: Literal["project", "purchase", "partnership", "other"] = Field(
        description="The kind of cooperation expected."
    )


class FeedbackOut(FeedbackIn):
    uid: str = Field(description="The meeting's uid.")
    answered_at: Instant


class ReportLineOut(BaseModel):
    label: str = Field(examples=["C2B", "Canada–EU"])
    planned: int
    held: int
    no_shows: int


def _keys_as_text(value: object) -> object:
    # The domain counts answers by the number given (1 to 5); JSON object keys are text.
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return value


class ReportOut(BaseModel):
    """The event's figures for its funders (see docs/api.md, "The event day")."""

    participants: int
    checked_in: int
    planned: int = Field(description="Meetings of the published version.")
    held: int = Field(description="Planned meetings marked held.")
    no_shows: int
    unmarked: int
    with_a_meeting: int = Field(description="Participants with at least one planned meeting.")
    with_a_held_meeting: int
    by_kind: list[ReportLineOut]
    by_delegation_pair: list[ReportLineOut]
    by_country_pair: list[ReportLineOut]
    by_sector: list[ReportLineOut] = Field(
        description="A meeting counts once under every sector either organisation works in "
        "(so the lines may add up to more than the meetings), under 'no sector' when neither "
        "names one."
    )
    answers: int = Field(description="Feedback answers about planned meetings.")
    usefulness_mean: float | None
    usefulness: Annotated[dict[str, int], BeforeValidator(_keys_as_text)] = Field(
        description="Answers per usefulness, '1' to '5'."
    )
    follow_up: dict[str, int]
    cooperation: dict[str, int]


class FeedbackMailsOut(BaseModel):
    queued: int = Field(description="E-mails put in the outbox (sent after the answer).")


# --- who is away, and the re-plan of the rest of the day ------------------------------------

EventTime = Field(
    description="A time with its offset (`2030-10-26T11:00:00+02:00`), or the event's "
    "wall-clock time without one (`2030-10-26T11:00`); it must fall within the event."
)


class AbsenceIn(BaseModel):
    """From when a participant is away (did not come, or leaves early)."""

    model_config = ConfigDict(extra="forbid")

    away_from: datetime = EventTime


class AbsenceOut(BaseModel):
    participant: str = Field(description="The participant's key.")
    name: str
    organisation: str
    away_from: Instant = Field(description="From when they are away (UTC).")


class AwayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant: str = Field(min_length=1, max_length=64, description="The participant's key.")
    away_from: datetime | None = Field(
        default=None,
        description="From when they are away (as `frozen_before`); left out: from `frozen_before`.",
    )


class RestOfDayIn(BaseModel):
    """Re-plan the rest of the day without the people who are away."""

    model_config = ConfigDict(extra="forbid")

    frozen_before: datetime | None = Field(
        default=None,
        description="Published meetings of slots beginning before this moment stay as they "
        "are, and nobody gets a new meeting before it. Left out: now. A time with its offset, "
        "or the event's wall-clock time without one; it must fall within the event.",
    )
    absent: list[AwayIn] = Field(
        default_factory=list,
        max_length=1000,
        description="People to mark away first (in addition to those marked already).",
    )
    not_checked_in_away: bool = Field(
        default=False,
        description="Mark everyone who comes to the venue and has not been checked in away "
        "from `frozen_before` (those who attend online are left out).",
    )
    time_limit_seconds: float | None = Field(default=None, ge=1, le=3600)


class RestOfDayOut(BaseModel):
    frozen_before: Instant
    away: list[AbsenceOut] = Field(description="Everyone marked away, by name.")
    job: JobOut = Field(description="The re-plan's solve job; its version is published as any.")
