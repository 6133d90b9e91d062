"""Erasing a participant's personal data on request (GDPR art. 17, "right to erasure").

The participant's row stays, emptied of everything that identifies the person, so that the
event's figures still add up: meetings of past and published versions keep their two
participants, wishes keep their sender and recipient, statistics and the version history stay
consistent. What goes: name, e-mail, job title, own time zone, directory listing, the personal
link and calendar feed (both stop working at once), the messages of the person's wishes, and
the organisation's name, description and website when nobody else represents it. Calendar
feeds and agendas of the other participants then show the meeting with an erased counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from matchmaking.platform.models import Meeting, Organisation, OutboxMail, Participant, Wish

#: What an erased participant and organisation are called from then on.
ERASED_NAME = "Erased participant"
ERASED_ORGANISATION = "Erased organisation"


@dataclass(frozen=True)
class Erasure:
    """What an erasure did (no personal data in it)."""

    participant: str
    wishes_kept: int
    meetings_kept: int
    organisation_erased: bool


def is_erased(participant: Participant) -> bool:
    return participant.name == ERASED_NAME and not participant.email


def erase_participant(session: Session, participant: Participant) -> Erasure:
    """Remove `participant`'s personal data everywhere; the caller commits."""
    if participant.email:
        # Their mails, sent or waiting: the address, and links and names in waiting ones.
        session.execute(
            delete(OutboxMail).where(
                OutboxMail.event_id == participant.event_id,
                OutboxMail.recipient == participant.email,
            )
        )
    _erase_person(participant)
    wishes = session.scalars(
        select(Wish).where(
            or_(Wish.sender_id == participant.id, Wish.recipient_id == participant.id)
        )
    ).all()
    for wish in wishes:
        # A message is personal both ways: written by the person, or about them.
        wish.message = ""
    organisation_erased = _erase_lone_organisation(session, participant.organisation, participant)
    meetings = session.scalars(
        select(Meeting.id).where(
            or_(
                Meeting.participant_a_id == participant.id,
                Meeting.participant_b_id == participant.id,
            )
        )
    ).all()
    session.flush()
    return Erasure(
        participant=participant.key,
        wishes_kept=len(wishes),
        meetings_kept=len(meetings),
        organisation_erased=organisation_erased,
    )


def _erase_person(participant: Participant) -> None:
    participant.name = ERASED_NAME
    participant.email = ""
    participant.job_title = ""
    participant.timezone = ""
    participant.listed = False
    # Both secrets stop working: nobody can sign in as, or subscribe to, the erased person.
    participant.access_token_hash = None
    participant.calendar_links.clear()


def _erase_lone_organisation(
    session: Session, organisation: Organisation, participant: Participant
) -> bool:
    """Empty the organisation too when the erased person was its only representative (a
    one-person organisation's name is often the person's). Kind and country stay: they are
    what the statistics count."""
    others = session.scalars(
        select(Participant.id).where(
            Participant.organisation_id == organisation.id,
            Participant.id != participant.id,
            Participant.name != ERASED_NAME,
        )
    ).first()
    if others is not None:
        return False
    organisation.name = ERASED_ORGANISATION
    organisation.description = ""
    organisation.website = ""
    return True
