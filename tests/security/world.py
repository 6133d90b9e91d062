"""A small but complete world for the security and fuzz tests, built through the ORM.

Two events of two owners: `fair-2030` (open, with a staff member, participants p1..p4 with
personal and calendar tokens, wishes w1 p1→p2 and w3 p3→p4 accepted and met in the published
version 1, w2 p2→p1 waiting for p1's answer, a finished solve) and
`other-2030` (another owner, one participant q1). Every secret is returned so each role can
be played: anonymous, participant of this event, participant of another event, staff, owner
of another event, owner.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from matchmaking.platform.models import (
    ApiToken,
    CalendarLink,
    EventRole,
    EventRoleName,
    EventStatus,
    JobStatus,
    Organiser,
    SolveJob,
    Wish,
    WishStatus,
)
from matchmaking.platform.security import (
    CALENDAR_TOKEN_PREFIX,
    ORGANISER_TOKEN_PREFIX,
    PARTICIPANT_TOKEN_PREFIX,
    hash_token,
    new_token,
)
from tests.calendars.builders import Built, add_version, build_event

SLUG = "fair-2030"
OTHER_SLUG = "other-2030"
#: The roles of the authorisation matrix, in the order the issue names them.
ROLES = (
    "anonymous",
    "participant",
    "other_participant",
    "staff",
    "other_owner",
    "owner",
)


@dataclass
class World:
    slug: str = SLUG
    other_slug: str = OTHER_SLUG
    organiser_tokens: dict[str, str] = field(default_factory=dict)
    organiser_ids: dict[str, int] = field(default_factory=dict)
    token_ids: dict[str, int] = field(default_factory=dict)
    participant_tokens: dict[str, str] = field(default_factory=dict)
    calendar_tokens: dict[str, str] = field(default_factory=dict)
    job_id: str = ""
    other_job_id: str = ""
    version_number: int = 1

    def headers(self, role: str) -> dict[str, str]:
        """Credentials of `role` as request headers (none for anonymous)."""
        if role in ("staff", "owner", "other_owner"):
            return {"Authorization": f"Bearer {self.organiser_tokens[role]}"}
        if role == "participant":
            return {"X-Participant-Token": self.participant_tokens["p1"]}
        if role == "other_participant":
            return {"X-Participant-Token": self.participant_tokens["q1"]}
        return {}


def _organiser(session: Session, world: World, role: str) -> Organiser:
    organiser = Organiser(email=f"{role}@example.org", name=role.replace("_", " ").title())
    token = new_token(ORGANISER_TOKEN_PREFIX)
    row = ApiToken(
        organiser=organiser, name="tests", token_hash=hash_token(token), prefix=token[:12]
    )
    session.add_all([organiser, row])
    session.flush()
    world.organiser_tokens[role] = token
    world.organiser_ids[role] = organiser.id
    world.token_ids[role] = row.id
    return organiser


def _give_tokens(world: World, built: Built) -> None:
    for key, person in built.participants.items():
        token = new_token(PARTICIPANT_TOKEN_PREFIX)
        person.access_token_hash = hash_token(token)
        world.participant_tokens[key] = token
        feed = new_token(CALENDAR_TOKEN_PREFIX)
        person.calendar_links.append(CalendarLink(token_hash=hash_token(feed)))
        world.calendar_tokens[key] = feed


def _wish(built: Built, key: str, sender: str, recipient: str, status: WishStatus) -> Wish:
    return Wish(
        event=built.event,
        key=key,
        sender=built.participants[sender],
        recipient=built.participants[recipient],
        status=status,
        message=f"{sender} would like to meet {recipient}",
    )


def _job(built: Built, status: JobStatus) -> SolveJob:
    return SolveJob(
        id=str(uuid.uuid4()),
        event=built.event,
        status=status,
        parameters={"time_limit_seconds": 5, "workers": 1},
        finished_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


def build_world(session: Session) -> World:
    """Everything the security and fuzz tests play with; committed."""
    world = World()
    owner = _organiser(session, world, "owner")
    staff = _organiser(session, world, "staff")
    other_owner = _organiser(session, world, "other_owner")

    built = build_event(session, slug=SLUG, participants=4)
    built.event.status = EventStatus.open
    session.add_all(
        [
            EventRole(event=built.event, organiser=owner, role=EventRoleName.owner),
            EventRole(event=built.event, organiser=staff, role=EventRoleName.staff),
        ]
    )
    wishes = [
        _wish(built, "w1", "p1", "p2", WishStatus.accepted),
        _wish(built, "w2", "p2", "p1", WishStatus.requested),
        _wish(built, "w3", "p3", "p4", WishStatus.accepted),
    ]
    session.add_all(wishes)
    _give_tokens(world, built)
    version = add_version(
        session,
        built,
        [("w3", "s1", "t1", "p3", "p4"), ("w1", "s2", "t2", "p1", "p2")],
        published_at=datetime(2029, 12, 1, tzinfo=UTC),
    )
    # Every meeting meets a wish, as a solve makes it.
    version.meetings[0].wishes = [wishes[2]]
    version.meetings[1].wishes = [wishes[0]]
    job = _job(built, JobStatus.succeeded)
    session.add(job)

    other = build_event(session, slug=OTHER_SLUG, participants=1)
    other.event.status = EventStatus.open
    other.participants["q1"] = other.participants.pop("p1")
    other.participants["q1"].name = "Quentin of another event"
    other.participants["q1"].email = "q1@example.org"
    other.participants["q1"].organisation.name = "Other cluster"
    session.add(EventRole(event=other.event, organiser=other_owner, role=EventRoleName.owner))
    _give_tokens(world, other)
    other_job = _job(other, JobStatus.succeeded)
    session.add(other_job)
    session.commit()
    world.job_id, world.other_job_id = job.id, other_job.id
    return world
