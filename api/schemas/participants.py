"""Registration, a participant's own profile, the directory, the organisers' view."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, StrictInt, field_validator

from api.schemas.common import Instant, Keys, Line, Name, Orm, Paragraphs, WebUrl
from matchmaking.organising.timegrid import zone
from matchmaking.platform.models import Attendance, OrganisationKind

Country = Annotated[
    str,
    Field(
        pattern=r"^([A-Za-z]{2})?$",
        examples=["DK"],
        description="ISO 3166-1 alpha-2 code (stored upper-case).",
    ),
]
Label = Annotated[Name, Field(min_length=1, max_length=100)]
#: Cooperation profile phrases (docs/bundle-format.md): at most 30, each at most 200 characters.
Phrase = Annotated[Line, Field(min_length=1, max_length=200)]
Phrases = Annotated[
    list[Phrase],
    Field(
        max_length=30,
        description="Short phrases, at most 30, each at most 200 characters.",
        examples=[["battery recycling services"]],
    ),
]
Delegation = Annotated[
    Line,
    Field(
        max_length=100,
        description='The side the organisation attends with ("EU", "Canada"); "" = none.',
        examples=["EU"],
    ),
]
Key = Annotated[str, Field(min_length=1, max_length=64)]


def _zone_or_empty(value: str | None) -> str | None:
    if value:
        zone(value)  # ValueError names the zone; pydantic reports it on the field
    return value


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=1, max_length=300, examples=["Energy Cluster Denmark"])
    kind: OrganisationKind = Field(
        default=OrganisationKind.company,
        description="`cluster` (cluster organisation or business network), `company`, "
        "`research`, `public` or `other`.",
    )
    country: Country = ""
    sectors: list[Label] = Field(default_factory=list, max_length=30, examples=[["Energy"]])
    focus_areas: list[Label] = Field(
        default_factory=list, max_length=30, description="Among the event's focus areas."
    )
    description: Paragraphs = Field(default="", max_length=5000)
    website: WebUrl = ""
    offers: Phrases = Field(default_factory=list)
    seeks: Phrases = Field(default_factory=list)
    delegation: Delegation = ""


class OrganisationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, min_length=1, max_length=300)
    kind: OrganisationKind | None = None
    country: Country | None = None
    sectors: list[Label] | None = Field(default=None, max_length=30)
    focus_areas: list[Label] | None = Field(default=None, max_length=30)
    description: Paragraphs | None = Field(default=None, max_length=5000)
    website: WebUrl | None = None
    offers: Phrases | None = None
    seeks: Phrases | None = None
    delegation: Delegation | None = None


class RegistrationIn(BaseModel):
    """A self-registration: the person, its organisation, attendance, availability, consent."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=1, max_length=200, examples=["Kristina Šermukšnytė"])
    email: EmailStr = Field(examples=["k@example.org"])
    job_title: Line = Field(default="", max_length=200)
    organisation: OrganisationIn = Field(
        description="Creates the organisation, or joins the event's organisation of the same "
        "name (case and spaces ignored) as a pending member until a confirmed member or an "
        "organiser confirms."
    )
    invitation: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The token of an organisation's invitation link: joins that organisation "
        "as a confirmed member (`organisation` is then only used for its name check).",
    )
    attendance: Attendance | None = Field(
        default=None, description="`onsite` or `online`; default from the event's mode."
    )
    timezone: str = Field(default="", max_length=64, description="Own IANA zone (optional).")
    unavailable_slots: list[Key] = Field(default_factory=list, description="Slot keys.")
    unavailable_sessions: list[Key] = Field(
        default_factory=list, description="Session keys: every slot of them is unavailable."
    )
    listed: StrictBool = Field(
        default=False, description="Consent to be listed in the event's participant directory."
    )

    _zone = field_validator("timezone")(_zone_or_empty)


class ProfileUpdate(BaseModel):
    """Only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    job_title: Line | None = Field(default=None, max_length=200)
    attendance: Attendance | None = None
    timezone: str | None = Field(default=None, max_length=64)
    listed: StrictBool | None = None
    unavailable_slots: list[Key] | None = Field(
        default=None, description="Replaces the list of unavailable slot keys."
    )
    organisation: OrganisationUpdate | None = None

    _zone = field_validator("timezone")(_zone_or_empty)


class OrganiserParticipantUpdate(ProfileUpdate):
    """What organisers may change of a participant, besides its own profile fields."""

    max_meetings: StrictInt | None = Field(
        default=None, ge=0, le=10_000, description="`null`: the event's cap."
    )
    host_location: Key | None = Field(default=None, description="`null`: no host location.")


class OrganisationOut(Orm):
    key: str
    name: str
    kind: OrganisationKind
    country: str
    sectors: list[str]
    focus_areas: list[str]
    description: str
    website: str
    offers: list[str]
    seeks: list[str]
    delegation: str


class DirectoryEntry(BaseModel):
    """A listed participant as other participants see it (no e-mail)."""

    key: str
    name: str
    job_title: str
    attendance: Attendance
    organisation: OrganisationOut


class ParticipantMe(BaseModel):
    key: str
    name: str
    email: str
    job_title: str
    attendance: Attendance
    timezone: str
    listed: StrictBool
    max_meetings: StrictInt | None
    organisation: OrganisationOut
    membership_confirmed: StrictBool = Field(
        description="False while a member of the organisation or an organiser has not "
        "confirmed the membership yet: no profile edits or answers for the organisation."
    )
    unavailable_slots: Keys
    created_at: Instant
    updated_at: Instant


class ParticipantOut(ParticipantMe):
    """A participant as organisers see it."""

    host_location: str | None


class RegistrationOut(BaseModel):
    participant: ParticipantMe
    access_token: str = Field(
        description="The personal token, shown only in this response (and e-mailed as a link). "
        "Send it as `X-Participant-Token`.",
        examples=["mmp_Vb0b8o2pL5vXh3D8rJm8Jw1uI3pP0y2kB5nXxZ7cWqE"],
    )
    link: str = Field(description="The personal link that signs the participant in on the pages.")


class InvitationOut(BaseModel):
    token: str = Field(description="Shown only in this response; a new one replaces it.")
    link: str = Field(description="The registration page with the invitation filled in.")


class MemberOut(BaseModel):
    """A member of one's own organisation."""

    key: str
    name: str
    job_title: str
    membership_confirmed: StrictBool


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class Accepted(BaseModel):
    detail: str


class ErasureOut(BaseModel):
    """What erasing a participant's personal data did."""

    participant: str = Field(description="Key of the erased participant (kept, not personal).")
    wishes_kept: int = Field(description="Wishes of or to the person, kept without messages.")
    meetings_kept: int = Field(description="Meetings in schedule versions, kept anonymously.")
    organisation_erased: bool = Field(
        description="Whether the organisation was emptied too (nobody else represents it)."
    )
