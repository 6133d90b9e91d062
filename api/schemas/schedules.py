"""Request and response shapes of solve jobs, schedule versions and agendas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.schemas.common import Instant, LocalTime
from matchmaking.delivery.agenda import Agenda
from matchmaking.planning.versions import ChangeKind
from solver.problem import GOALS

# --- solve jobs --------------------------------------------------------------------------------


class SolveRequest(BaseModel):
    """How to solve; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    time_limit_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="Search time; default the installation's `solve_time_limit_seconds`.",
        examples=[30],
    )
    workers: int | None = Field(
        default=None, ge=1, le=64, description="CP-SAT search workers (threads)."
    )
    replan: StrictBool | None = Field(
        default=None,
        description="Start from the published version and keep its meetings in place (the "
        "stability goal). Default: true when a version is published.",
    )
    objective: list[str] | None = Field(
        default=None,
        description=f"Goal order for this solve only, from {', '.join(GOALS)}. "
        "Default: the event's rules.",
        examples=[["required", "scheduled", "fairness", "breaks", "stability"]],
    )
    relative_gap: float = Field(
        default=0.0, ge=0, le=1, description="Stop each goal at this relative gap (0 = prove)."
    )
    deterministic: StrictBool = Field(
        default=False,
        description="Reproducible search: the same event gives the same schedule whatever "
        "the machine's load (one search worker; the time limit is counted in the solver's "
        "deterministic time).",
    )
    move_published: StrictBool = Field(
        default=False,
        description="Only with a re-plan. By default a re-plan optimises `stability` right "
        "after `required` and `scheduled`, whatever the goal order: published meetings move "
        "only to meet more or higher-priority wishes. True optimises the goals in the order "
        "as given (the event's, or `objective`): published meetings may then move, or be "
        "cancelled, to save breaks or even out shares, and participants are told of each "
        "change.",
    )


class ProgressPoint(BaseModel):
    elapsed_seconds: float
    goal: str
    objective: float | None
    bound: float | None


class JobProgress(BaseModel):
    goal: str = Field(description="The goal being optimised (empty before the search starts).")
    objective: float | None = Field(description="Best value found so far for `goal`.")
    bound: float | None = Field(description="Best proven bound for `goal`.")
    elapsed_seconds: float | None
    time_share: float | None = Field(description="Share of the time limit used, 0..1.")
    history: list[ProgressPoint]


class VersionLink(BaseModel):
    number: int
    url: str


class JobOut(BaseModel):
    id: str
    event: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    parameters: dict[str, Any]
    created_at: Instant
    started_at: Instant | None
    finished_at: Instant | None
    attempts: int
    cancel_requested: bool
    error: str = Field(description="Why the job failed (empty otherwise).")
    progress: JobProgress
    version: VersionLink | None = Field(
        description="The schedule version the job made (also a cancelled job that had found "
        "a schedule keeps it)."
    )
    url: str


# --- schedule versions -------------------------------------------------------------------------


class VersionSummary(BaseModel):
    number: int
    status: Literal["optimal", "feasible", "infeasible", "unknown"] | str
    objective: dict[str, Any]
    solve_seconds: float
    meetings: int
    based_on: int | None = Field(description="Number of the published version it re-planned.")
    snapshot_at: Instant
    created_at: Instant
    published_at: Instant | None
    superseded_at: Instant | None
    current: bool = Field(description="True for the event's current published version.")
    url: str


class Person(BaseModel):
    key: str
    name: str
    organisation: str


class UnscheduledWish(BaseModel):
    wish: str
    reason: str
    detail: str
    sender: Person | None
    recipient: Person | None = Field(description="The participant asked (None: an organisation).")
    recipient_organisation: str | None


class SlotUseOut(BaseModel):
    slot: str
    start: LocalTime
    end: LocalTime
    meetings: int
    capacity: int
    by_location: dict[str, int]


class StatisticsOut(BaseModel):
    requested: int = Field(description="Wishes sent before the snapshot (not withdrawn).")
    accepted: int = Field(description="Accepted wishes the solve had to place.")
    scheduled: int = Field(description="Accepted wishes met by a meeting.")
    scheduled_share: float
    meetings: int
    kinds: dict[str, int] = Field(description="Meetings by kind: C2C, C2B, B2B.")
    location_use: list[SlotUseOut]
    meetings_per_participant: dict[int, int] = Field(
        description="Histogram: number of meetings → number of participants."
    )
    unscheduled_by_reason: dict[str, int]


class ChangeOut(BaseModel):
    kind: ChangeKind
    key: str
    at: Instant
    detail: str


class StalenessOut(BaseModel):
    stale: bool
    snapshot_at: Instant
    changes: list[ChangeOut] = Field(description="Changes after the snapshot it does not include.")


class VersionDetail(VersionSummary):
    bound: dict[str, Any]
    parameters: dict[str, Any]
    statistics: StatisticsOut
    unscheduled: list[UnscheduledWish]
    conflicts: list[dict[str, Any]]
    staleness: StalenessOut


class PlacementOut(BaseModel):
    slot: str
    location: str
    participants: list[str]
    starts: LocalTime | None = Field(default=None, description="When the slot starts.")
    ends: LocalTime | None = Field(default=None, description="When the slot ends.")
    location_name: str = Field(default="", description="The location's name.")
    names: list[str] = Field(default_factory=list, description="The two participants' names.")
    organisations: list[str] = Field(
        default_factory=list, description="Their organisations' names."
    )


class MeetingChangeOut(BaseModel):
    uid: str
    change: Literal["added", "moved", "removed"]
    wishes: list[str]
    old: PlacementOut | None
    new: PlacementOut | None
    by_hand: bool = Field(
        default=False, description="Moved, added or cancelled by an organiser's hand edit."
    )


class PersonImpactOut(BaseModel):
    key: str
    name: str
    organisation: str
    moved: int = Field(description="Meetings of this participant that move.")
    cancelled: int = Field(description="Meetings of this participant that are cancelled.")
    added: int = Field(description="New meetings of this participant.")


class GoalChangeOut(BaseModel):
    goal: str = Field(description="Key in the versions' `objective`.")
    label: str
    before: float | None
    after: float | None
    verdict: Literal["better", "worse", "same", "unknown"]


class ImpactOut(BaseModel):
    """What publishing this version instead of the compared one does to people."""

    moved: int
    cancelled: int
    added: int
    participants: list[PersonImpactOut] = Field(
        description="Every participant with a meeting moved, cancelled or added; those with "
        "cancelled meetings first."
    )
    goals: list[GoalChangeOut] = Field(description="Each goal before and after.")
    needs_confirmation: bool = Field(
        description="True when meetings are cancelled: the organiser pages ask to confirm."
    )


class DiffOut(BaseModel):
    version: int
    against: int | None = Field(description="The version compared with (None: nothing).")
    added: list[MeetingChangeOut]
    moved: list[MeetingChangeOut]
    removed: list[MeetingChangeOut]
    unchanged: int
    impact: ImpactOut


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(
        default=False,
        description="Publish even when the version is stale, or was not planned from the "
        "currently published version.",
    )


class PublishOut(BaseModel):
    version: VersionSummary
    previous: int | None = Field(description="The version it replaced as the published one.")
    unchanged: bool = Field(description="It already was the published version.")
    added: int
    moved: int
    removed: int
    notified: int = Field(description="Participants e-mailed about it.")


# --- agendas -------------------------------------------------------------------------------------


class CounterpartOut(BaseModel):
    key: str
    name: str
    job_title: str
    attendance: str
    organisation: str
    organisation_kind: str
    country: str
    sectors: list[str]


class AgendaItemOut(BaseModel):
    uid: str
    slot: str
    session: str
    start: str = Field(examples=["2024-09-10T09:00:00-04:00"])
    end: str
    start_own_zone: str | None
    end_own_zone: str | None
    location: str
    location_name: str
    location_kind: str
    video_url: str | None
    kind: Literal["C2C", "C2B", "B2B"] | str
    wishes: list[str]
    counterpart: CounterpartOut


class AgendaOut(BaseModel):
    event: str
    event_name: str
    timezone: str
    venue: str
    participant: str
    participant_name: str
    version: int | None = Field(description="The version shown (None: nothing published).")
    published_at: Instant | None
    meetings: list[AgendaItemOut]


def agenda_out(agenda: Agenda) -> AgendaOut:
    """The API's view of an agenda: the same names, field by field."""
    return AgendaOut.model_validate(agenda, from_attributes=True)


def agenda_json(agenda: Agenda) -> bytes:
    """The body of `GET /me/agenda` (also what publication stores, `matchmaking.delivery.
    rendered`)."""
    return agenda_out(agenda).model_dump_json().encode()
