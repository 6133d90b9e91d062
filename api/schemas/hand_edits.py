"""Request and response shapes of hand edits of a schedule version."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.schemas.common import Instant, LocalTime
from api.schemas.schedules import VersionSummary

_KEY = Field(min_length=1, max_length=64, examples=["s3"])


class MoveRequest(BaseModel):
    """Where the meeting goes: a slot and a location (keys of the event)."""

    model_config = ConfigDict(extra="forbid")

    slot: str = _KEY
    location: str = Field(min_length=1, max_length=64, examples=["t4"])


class AddRequest(BaseModel):
    """A meeting of two participants, for their accepted wishes this version leaves unmet."""

    model_config = ConfigDict(extra="forbid")

    participants: list[str] = Field(
        min_length=2,
        max_length=2,
        description="Keys of the two participants.",
        examples=[["p1", "p7"]],
    )
    slot: str = _KEY
    location: str = Field(min_length=1, max_length=64, examples=["t4"])


class PinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pinned: StrictBool = Field(description="True pins the meeting, false unpins it.")


class ResolveRequest(BaseModel):
    """How long to search; the solve runs in the request."""

    model_config = ConfigDict(extra="forbid")

    time_limit_seconds: float = Field(default=10, gt=0, le=120, description="Search time.")
    workers: int = Field(default=1, ge=1, le=8, description="CP-SAT search workers.")
    deterministic: StrictBool = Field(
        default=True, description="Reproducible search (the same event gives the same result)."
    )


class MeetingOut(BaseModel):
    uid: str = Field(description="The meeting's identity across versions.")
    wishes: list[str]
    slot: str
    location: str
    participants: list[str] = Field(description="Keys of the two participants.")
    starts: LocalTime
    ends: LocalTime
    location_name: str
    names: list[str]
    organisations: list[str]
    placed_by_hand: bool = Field(description="Moved or added by a hand edit.")
    pinned: bool = Field(description="A re-solve around pins keeps it where it is.")


class HandEditOut(BaseModel):
    kind: Literal["moved", "added", "cancelled", "pinned", "unpinned", "copied", "resolved"]
    uid: str = Field(description="The meeting's uid (empty for a copy or a re-solve).")
    text: str = Field(description="What was done, in words (names, times, places).")
    at: Instant


class EditOut(BaseModel):
    version: int
    edit: HandEditOut
    meeting: MeetingOut | None = Field(description="The meeting as it is now (None: cancelled).")


class HandEditsOut(BaseModel):
    version: int
    editable: bool = Field(
        description="False for a published version: make a draft copy (`POST .../copy`)."
    )
    meetings: list[MeetingOut]
    edits: list[HandEditOut]


class CopyOut(BaseModel):
    version: VersionSummary
    copy_of: int
