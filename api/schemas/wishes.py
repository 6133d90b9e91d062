"""Meeting wishes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.schemas.common import Instant, Paragraphs
from matchmaking.platform.models import OrganisationKind, WishStatus

Priority = Annotated[
    StrictInt,
    Field(ge=1, le=3, description="1 must meet, 2 want to meet (default), 3 nice to meet."),
]


class WishCreate(BaseModel):
    """A wish to meet a participant (`to`) or anyone of an organisation (`to_organisation`)."""

    model_config = ConfigDict(extra="forbid")

    to: str | None = Field(default=None, max_length=64, examples=["p-3fa91c02"])
    to_organisation: str | None = Field(default=None, max_length=64)
    priority: Priority = 2
    message: Paragraphs = Field(default="", max_length=2000)


class WishEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority | None = None
    message: Paragraphs | None = Field(default=None, max_length=2000)


class OrganiserWishUpdate(BaseModel):
    """Organisers may set the status and the scheduling rules of a wish."""

    model_config = ConfigDict(extra="forbid")

    status: WishStatus | None = None
    priority: Priority | None = None
    required: StrictBool | None = None
    separate: StrictBool | None = None
    session: str | None = Field(default=None, max_length=64, description="`null` clears it.")
    fixed_slot: str | None = Field(default=None, max_length=64, description="`null` clears it.")


class OrganisationRef(BaseModel):
    key: str
    name: str
    kind: OrganisationKind
    country: str


class PersonRef(BaseModel):
    key: str
    name: str
    organisation: OrganisationRef


class WishOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    key: str
    sender: PersonRef = Field(serialization_alias="from")
    to: PersonRef | None
    to_organisation: OrganisationRef | None
    priority: StrictInt
    status: WishStatus
    message: str
    mutual: StrictBool = Field(description="The recipient wishes to meet the sender as well.")
    required: StrictBool
    session: str | None
    fixed_slot: str | None
    created_at: Instant
    answered_at: Instant | None
    proposed: StrictBool = Field(
        False,
        description="Proposed by the organisers: both sides must accept it (`requested` "
        "until both have); scheduled after every wish the participants sent themselves.",
    )
    accepted_by: list[str] = Field(
        default_factory=list,
        description="For a proposal: the keys of the sides that have accepted it.",
    )
    reasons: dict[str, list[str]] = Field(
        default_factory=dict,
        description="For a proposal: why, in each side's words (`sender`, `recipient`).",
    )
