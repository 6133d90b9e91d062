"""Small builders of real events in the database for calendar, page and export tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from matchmaking.platform.models import (
    Attendance,
    Event,
    EventMode,
    EventSession,
    Location,
    LocationKind,
    Meeting,
    Organisation,
    OrganisationKind,
    Participant,
    ScheduleVersion,
)
from matchmaking.platform.models import Slot as EventSlot


@dataclass
class Built:
    event: Event
    slots: dict[str, EventSlot] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    participants: dict[str, Participant] = field(default_factory=dict)


def build_event(
    session: Session,
    *,
    slug: str = "eu-canada-2024",
    timezone: str = "Europe/Berlin",
    first_slot: datetime = datetime(2024, 10, 26, 9, 0),
    slots_per_day: int = 4,
    days: int = 2,
    participants: int = 4,
) -> Built:
    """An event with `days` days of 20-minute slots, two tables, a video room and people.

    Participants p1, p3, ... are from cluster organisations, p2, p4, ... from companies;
    the last one attends online.
    """
    event = Event(
        slug=slug,
        name="EU–Canada Cluster Matchmaking",
        timezone=timezone,
        venue="Palais des congrès, Montréal",
        mode=EventMode.hybrid,
        focus_areas=["Artificial Intelligence", "Quantum Technology"],
        video_base_url="https://video.example.org/rooms",
    )
    built = Built(event)
    session.add(event)
    for day in range(days):
        block = EventSession(event=event, key=f"d{day + 1}", name=f"Day {day + 1}", position=day)
        for i in range(slots_per_day):
            start = first_slot + timedelta(days=day, minutes=25 * i)
            key = f"s{day * slots_per_day + i + 1}"
            slot = EventSlot(
                event=event, session=block, key=key, start=start, end=start + timedelta(minutes=20)
            )
            built.slots[key] = slot
            session.add_all([block, slot])
    for position, (key, name, kind) in enumerate(
        [
            ("t1", "Table 1", LocationKind.table),
            ("t2", "Table 2", LocationKind.table),
            ("video", "Video room", LocationKind.online),
        ]
    ):
        built.locations[key] = Location(
            event=event, key=key, name=name, kind=kind, capacity=1, position=position
        )
        session.add(built.locations[key])
    for n in range(1, participants + 1):
        cluster = n % 2 == 1
        organisation = Organisation(
            event=event,
            key=f"o{n}",
            name=f"{'Cluster' if cluster else 'Company'} {n}",
            kind=OrganisationKind.cluster if cluster else OrganisationKind.company,
            country=["DK", "CA", "DE", "FR"][n % 4],
            sectors=["Energy"],
        )
        built.participants[f"p{n}"] = Participant(
            event=event,
            organisation=organisation,
            key=f"p{n}",
            name=f"Person {n}",
            email=f"p{n}@example.org",
            attendance=Attendance.online if n == participants else Attendance.onsite,
            listed=True,
        )
        session.add_all([organisation, built.participants[f"p{n}"]])
    session.flush()
    return built


def meeting_kind(a: Participant, b: Participant) -> str:
    clusters = [p.organisation.kind == OrganisationKind.cluster for p in (a, b)]
    return "C2C" if all(clusters) else "C2B" if any(clusters) else "B2B"


def add_version(
    session: Session,
    built: Built,
    meetings: list[tuple[str, str, str, str, str]],
    *,
    published_at: datetime | None = None,
) -> ScheduleVersion:
    """A schedule version with meetings (uid, slot, location, participant a, participant b)."""
    event = built.event
    number = len(event.versions) + 1
    if published_at is not None:
        # As publishing does: the previous published version stays in the history, superseded.
        for older in event.versions:
            if older.published_at is not None and older.superseded_at is None:
                older.superseded_at = published_at
        session.flush()
    version = ScheduleVersion(
        event=event, number=number, status="optimal", published_at=published_at
    )
    session.add(version)
    for uid, slot, location, a, b in meetings:
        pa, pb = built.participants[a], built.participants[b]
        version.meetings.append(
            Meeting(
                slot=built.slots[slot],
                location=built.locations[location],
                participant_a=pa,
                participant_b=pb,
                kind=meeting_kind(pa, pb),
                uid=uid,
            )
        )
    session.flush()
    return version


def at(day: int, hour: int = 12) -> datetime:
    """A publication instant in October 2024 (UTC)."""
    return datetime(2024, 10, day, hour, tzinfo=UTC)
