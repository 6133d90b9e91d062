"""Small factories for events, wishes and schedule versions, straight through the ORM.

Used by the job, publishing, version and agenda tests; rows are real rows in the test's
database (never mocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.platform.models import (
    Attendance,
    Event,
    EventSession,
    EventStatus,
    Location,
    LocationKind,
    Meeting,
    Organisation,
    OrganisationKind,
    Participant,
    ScheduleVersion,
    Slot,
    Wish,
    WishStatus,
    utcnow,
)

KINDS = [OrganisationKind.cluster, OrganisationKind.company, OrganisationKind.research]


def make_event(
    session: Session,
    *,
    slug: str = "eu-canada-2024",
    participants: int = 4,
    slots: int = 4,
    tables: int = 2,
    timezone: str = "America/Toronto",
    first_slot: datetime = datetime(2024, 9, 10, 9, 0),
) -> Event:
    """An event with one session of 20-minute slots, tables, a video room and participants
    p1..pN, each of their own organisation o1..oN (kinds cycling cluster/company/research)."""
    event = Event(
        slug=slug,
        name=f"Event {slug}",
        timezone=timezone,
        venue="Palais des congrès, Montréal",
        status=EventStatus.closed,
        video_base_url="https://video.example.org/rooms",
        rules={"max_meetings_per_participant": 6},
    )
    session.add(event)
    block = EventSession(event=event, key="am", name="Day 1 morning", position=0)
    session.add(block)
    for i in range(slots):
        start = first_slot + timedelta(minutes=25 * i)
        session.add(
            Slot(
                event=event,
                session=block,
                key=f"s{i + 1}",
                start=start,
                end=start + timedelta(minutes=20),
            )
        )
    for i in range(tables):
        session.add(
            Location(
                event=event,
                key=f"t{i + 1}",
                name=f"Table {i + 1}",
                kind=LocationKind.table,
                position=i,
            )
        )
    session.add(
        Location(
            event=event,
            key="video",
            name="Video room",
            kind=LocationKind.online,
            capacity=50,
            position=tables,
        )
    )
    for i in range(participants):
        add_participant(session, event, f"p{i + 1}", kind=KINDS[i % len(KINDS)])
    session.flush()
    return event


def add_participant(
    session: Session,
    event: Event,
    key: str,
    *,
    kind: OrganisationKind = OrganisationKind.company,
    attendance: Attendance = Attendance.onsite,
    country: str = "DK",
) -> Participant:
    organisation = Organisation(
        event=event,
        key=f"o-{key}",
        name=f"Organisation of {key}",
        kind=kind,
        country=country,
        sectors=["Energy", "Artificial Intelligence"],
    )
    participant = Participant(
        event=event,
        organisation=organisation,
        key=key,
        name=f"Person {key}",
        email=f"{key}@example.org",
        attendance=attendance,
    )
    session.add_all([organisation, participant])
    session.flush()
    return participant


def participant(session: Session, event: Event, key: str) -> Participant:
    return next(p for p in event.participants if p.key == key)


def add_wish(
    session: Session,
    event: Event,
    key: str,
    sender: str,
    recipient: str,
    *,
    status: WishStatus = WishStatus.accepted,
    priority: int = 2,
    required: bool = False,
) -> Wish:
    session.flush()  # refresh cascades to the event's rows: keep no unflushed change
    session.refresh(event)
    wish = Wish(
        event=event,
        key=key,
        sender=participant(session, event, sender),
        recipient=participant(session, event, recipient),
        status=status,
        priority=priority,
        required=required,
    )
    session.add(wish)
    session.flush()
    return wish


def meeting_kind(a: Participant, b: Participant) -> str:
    clusters = [p.organisation.kind == OrganisationKind.cluster for p in (a, b)]
    return "C2C" if all(clusters) else "C2B" if any(clusters) else "B2B"


def make_version(
    session: Session,
    event: Event,
    meetings: Sequence[tuple[str, str, str, str, str, Sequence[str]]],
    *,
    status: str = "optimal",
    based_on: ScheduleVersion | None = None,
    snapshot_at: datetime | None = None,
    unscheduled: Sequence[tuple[str, str]] = (),
) -> ScheduleVersion:
    """A version with meetings given as (uid, slot, location, participant a, b, wish keys)."""
    session.flush()  # refresh cascades to the event's rows: keep no unflushed change
    session.refresh(event)
    number = 1 + max((v.number for v in event.versions), default=0)
    version = ScheduleVersion(
        event=event,
        number=number,
        status=status,
        based_on_id=based_on.id if based_on is not None else None,
        snapshot_at=snapshot_at or utcnow(),
        unscheduled=[
            {"wish": wish, "reason": reason, "detail": f"{wish} could not be placed"}
            for wish, reason in unscheduled
        ],
    )
    session.add(version)
    session.flush()
    slots = {s.key: s for s in session.scalars(select(Slot).where(Slot.event_id == event.id))}
    locations = {loc.key: loc for loc in event.locations}
    wishes = {w.key: w for w in session.scalars(select(Wish).where(Wish.event_id == event.id))}
    for uid, slot, location, a, b, wish_keys in meetings:
        first, second = participant(session, event, a), participant(session, event, b)
        meeting = Meeting(
            version=version,
            slot=slots[slot],
            location=locations[location],
            participant_a=first,
            participant_b=second,
            kind=meeting_kind(first, second),
            uid=uid,
        )
        meeting.wishes = [wishes[k] for k in wish_keys]
        session.add(meeting)
    session.flush()
    return version
