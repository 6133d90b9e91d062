"""Check-in at the venue: staff find a participant by name and mark them arrived (or undo it).

One `CheckIn` row per arrived participant; undoing deletes it. Marking someone who has
arrived already changes nothing (the first arrival time stays), so two staff phones scanning
the same badge agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import segno
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from matchmaking.participants.registration import participants_in_order
from matchmaking.platform.errors import NotFound
from matchmaking.platform.models import (
    Absence,
    CheckIn,
    Event,
    Organisation,
    Participant,
    as_utc,
    utcnow,
)
from matchmaking.platform.wording import fold


@dataclass(frozen=True, slots=True)
class Arrival:
    participant: Participant
    #: When they were marked arrived (UTC), None while not arrived.
    arrived_at: datetime | None


def find_participant(session: Session, event: Event, key: str) -> Participant:
    """A participant of this event; NotFound for a key of another event or none."""
    found = session.scalar(
        select(Participant)
        .where(Participant.event_id == event.id, Participant.key == key)
        .options(selectinload(Participant.organisation))
    )
    if found is None:
        raise NotFound(f"The event has no participant '{key}'.", field="path.key")
    return found


def arrived_at(session: Session, participant: Participant) -> datetime | None:
    moment = session.scalar(
        select(CheckIn.arrived_at).where(CheckIn.participant_id == participant.id)
    )
    return as_utc(moment)


def check_in(
    session: Session,
    event: Event,
    participant: Participant,
    *,
    by: int | None = None,
    now: datetime | None = None,
) -> Arrival:
    """Mark the participant arrived (no change when they are already); someone marked away
    (see `absences`) is so no longer: they came after all, or came back."""
    if participant.event_id != event.id:
        raise NotFound(f"The event has no participant '{participant.key}'.", field="path.key")
    query = select(CheckIn).where(CheckIn.participant_id == participant.id)
    row = session.scalar(query)
    if row is None:
        row = CheckIn(
            event_id=event.id, participant_id=participant.id, arrived_at=now or utcnow(),
            organiser_id=by,
        )  # fmt: skip
        try:
            # Two phones scanning the same badge at once: the second finds the first's row.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            row = session.scalars(query.execution_options(populate_existing=True)).one()
    session.execute(delete(Absence).where(Absence.participant_id == participant.id))
    return Arrival(participant, as_utc(row.arrived_at))


def undo_check_in(session: Session, event: Event, participant: Participant) -> Arrival:
    """The participant is no longer marked arrived (no change when they were not)."""
    if participant.event_id != event.id:
        raise NotFound(f"The event has no participant '{participant.key}'.", field="path.key")
    row = session.scalar(select(CheckIn).where(CheckIn.participant_id == participant.id))
    if row is not None:
        session.delete(row)
        session.flush()
    return Arrival(participant, None)


def search(
    session: Session, event: Event, q: str | None, limit: int, offset: int
) -> tuple[list[Arrival], int, int]:
    """Participants whose name, organisation or e-mail holds every word of `q` (accents and
    case ignored), by name; the page, how many match, and how many of the event arrived."""
    words = fold(q or "").split()
    rows = session.execute(
        select(Participant.id, Participant.name, Participant.email, Organisation.name)
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .where(Participant.event_id == event.id)
        .order_by(func.lower(Participant.name), Participant.id)
    ).all()
    if words:
        rows = [r for r in rows if all(w in fold(" ".join(map(str, r[1:]))) for w in words)]
    people = participants_in_order(session, [r[0] for r in rows[offset : offset + limit]])
    arrivals: dict[int, datetime] = {
        participant_id: arrived_at
        for participant_id, arrived_at in session.execute(
            select(CheckIn.participant_id, CheckIn.arrived_at).where(CheckIn.event_id == event.id)
        )
    }
    page = [Arrival(p, as_utc(arrivals.get(p.id))) for p in people]
    return page, len(rows), len(arrivals)


# --- the check-in code on agendas and badges ---------------------------------------------------


def check_in_url(base_url: str, event: Event, participant: Participant) -> str:
    """The staff page that checks this participant in (signed-in staff only)."""
    return (
        f"{base_url.rstrip('/')}/organiser/e/{quote(event.slug)}/check-in/"
        f"{quote(participant.key, safe='')}"
    )


def qr_svg(text: str, *, title: str = "Check-in code") -> str:
    """`text` as a QR code: an inline SVG element (no XML declaration), scaled by CSS."""
    code = segno.make(text, error="m")
    svg: str = code.svg_inline(
        scale=4,
        border=2,
        title=title,
        svgclass="qr",
        lineclass=None,
        omitsize=True,
        light="#fff",
    )
    return svg
