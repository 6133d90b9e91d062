"""Events: lookup, roles, lifecycle, the time grid (sessions and slots), locations, rules."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.errors import NotFound
from matchmaking.models import Event, EventRole, EventRoleName, Organiser


def as_utc(moment: datetime | None) -> datetime | None:
    """A timezone-aware UTC instant. SQLite hands back naive values, which are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def find_event(session: Session, slug: str) -> Event | None:
    return session.scalar(select(Event).where(Event.slug == slug))


def get_event(session: Session, slug: str) -> Event:
    event = find_event(session, slug)
    if event is None:
        raise NotFound(f"There is no event '{slug}'.")
    return event


def role_of(session: Session, event: Event, organiser: Organiser) -> EventRoleName | None:
    """The organiser's role in the event, None when it has none."""
    return session.scalar(
        select(EventRole.role).where(
            EventRole.event_id == event.id, EventRole.organiser_id == organiser.id
        )
    )
