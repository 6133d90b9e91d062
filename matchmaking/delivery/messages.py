"""Organisers' messages: an e-mail written by an organiser to every participant of the event
or to a segment of them, sent through the outbox like the service's own mails.

Segments (`SEGMENTS`) are the groups organisers write to most: everyone, people registered
without a wish, people with requests waiting for their answer, people with wishes the
published schedule could not place, online participants, and one delegation. Only people
with an e-mail address count (erased participants have none). A message is checked whole
before anything is queued (subject one visible line, body not empty, segment known); the
mails are queued in the caller's transaction, so a rolled-back send sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from matchmaking.participants.registration import participant_page
from matchmaking.planning.publishing import current_published_version
from matchmaking.platform.errors import Invalid
from matchmaking.platform.mail import Mail, queue
from matchmaking.platform.models import (
    Attendance,
    Event,
    Meeting,
    MeetingWish,
    Organisation,
    Participant,
    Wish,
    WishStatus,
)
from matchmaking.platform.text import ONE_LINE_FORBIDDEN, has_visible_character

SUBJECT_MAX = 200
BODY_MAX = 20_000
#: How many recipients' names a preview shows.
PREVIEW_NAMES = 8


@dataclass(frozen=True)
class Segment:
    key: str
    label: str
    #: What the organiser reads next to the choice.
    description: str


SEGMENTS: tuple[Segment, ...] = (
    Segment("everyone", "Everyone", "Every registered participant."),
    Segment("no_wishes", "Without wishes", "Registered, but has not asked to meet anyone yet."),
    Segment(
        "unanswered",
        "With unanswered requests",
        "Someone asked to meet them (or their organisation) and they have not answered yet.",
    ),
    Segment(
        "unscheduled",
        "With unscheduled wishes",
        "Has an accepted wish that the published schedule could not place.",
    ),
    Segment("online", "Online participants", "Takes part online."),
    Segment("delegation", "One delegation", "The members of the organisations of one delegation."),
)
SEGMENT_KEYS = frozenset(s.key for s in SEGMENTS)


@dataclass(frozen=True)
class Audience:
    """Who a message to a segment reaches: how many, and the first names for a preview."""

    segment: str
    delegation: str
    count: int
    names: tuple[str, ...]


def _base(event: Event) -> Select[tuple[int, str, str]]:
    return select(Participant.id, Participant.name, Participant.email).where(
        Participant.event_id == event.id, Participant.email != ""
    )


def _filter(
    session: Session, event: Event, segment: str, delegation: str
) -> Select[tuple[int, str, str]]:
    query = _base(event)
    if segment == "everyone":
        return query
    if segment == "no_wishes":
        sent = exists().where(Wish.sender_id == Participant.id)
        return query.where(~sent)
    if segment == "unanswered":
        to_me = exists().where(
            Wish.recipient_id == Participant.id, Wish.status == WishStatus.requested
        )
        to_my_organisation = exists().where(
            Wish.recipient_organisation_id == Participant.organisation_id,
            Wish.status == WishStatus.requested,
        )
        # Only confirmed members answer for their organisation.
        return query.where(
            to_me | (Participant.membership_confirmed.is_(True) & to_my_organisation)
        )
    if segment == "unscheduled":
        published = current_published_version(session, event.id)
        if published is None:
            return query.where(Participant.id.is_(None))  # nothing is published: nobody
        version_id = published.id
        placed = (
            select(MeetingWish.wish_id)
            .join(Meeting, MeetingWish.meeting_id == Meeting.id)
            .where(Meeting.version_id == version_id)
        )
        waiting = exists().where(
            Wish.sender_id == Participant.id,
            Wish.status == WishStatus.accepted,
            Wish.id.not_in(placed),
        )
        return query.where(waiting)
    if segment == "online":
        return query.where(Participant.attendance == Attendance.online)
    if segment == "delegation":
        return query.join(Organisation, Participant.organisation_id == Organisation.id).where(
            func.lower(Organisation.delegation) == delegation.strip().lower()
        )
    raise Invalid(_unknown_segment(segment), field="body.segment")


def _unknown_segment(segment: str) -> str:
    known = ", ".join(s.key for s in SEGMENTS)
    return f"'{segment}' is not a segment (one of: {known})."


def delegations(session: Session, event: Event) -> list[str]:
    """The delegations of the event's organisations, as written."""
    return sorted(
        d
        for d in session.scalars(
            select(Organisation.delegation)
            .where(Organisation.event_id == event.id, Organisation.delegation != "")
            .distinct()
        )
    )


def _check_segment(session: Session, event: Event, segment: str, delegation: str) -> None:
    if segment not in SEGMENT_KEYS:
        raise Invalid(_unknown_segment(segment), field="body.segment")
    if segment == "delegation":
        known = delegations(session, event)
        if not delegation.strip():
            raise Invalid("Choose the delegation to write to.", field="body.delegation")
        if delegation.strip().lower() not in {d.lower() for d in known}:
            offered = ", ".join(known) or "none"
            raise Invalid(
                f"'{delegation.strip()}' is not a delegation of this event (it has: {offered}).",
                field="body.delegation",
            )


def _recipients(
    session: Session, event: Event, segment: str, delegation: str
) -> tuple[Audience, list[tuple[str, str]]]:
    """Who a message to `segment` reaches now, and their (name, e-mail), by name."""
    _check_segment(session, event, segment, delegation)
    query = _filter(session, event, segment, delegation)
    rows = session.execute(query.order_by(func.lower(Participant.name), Participant.id)).all()
    reached = Audience(
        segment=segment,
        delegation=delegation.strip() if segment == "delegation" else "",
        count=len(rows),
        names=tuple(r.name for r in rows[:PREVIEW_NAMES]),
    )
    return reached, [(r.name, r.email) for r in rows]


def audience(session: Session, event: Event, segment: str, delegation: str = "") -> Audience:
    """Who a message to `segment` would reach now."""
    return _recipients(session, event, segment, delegation)[0]


def segment_counts(session: Session, event: Event) -> dict[str, int]:
    """How many people each segment reaches (the delegation segment: all delegations)."""
    counts = {}
    for segment in SEGMENTS:
        if segment.key == "delegation":
            query = (
                _base(event)
                .join(Organisation, Participant.organisation_id == Organisation.id)
                .where(Organisation.delegation != "")
            )
        else:
            query = _filter(session, event, segment.key, "")
        counts[segment.key] = (
            session.scalar(select(func.count()).select_from(query.subquery())) or 0
        )
    return counts


def check_message(subject: str, body: str) -> tuple[str, str]:
    """The subject and body as sent; Invalid naming the field when one is not acceptable."""
    subject, body = subject.strip(), body.replace("\r\n", "\n").strip()
    if not has_visible_character(subject):
        raise Invalid("Write a subject.", field="body.subject")
    if ONE_LINE_FORBIDDEN.search(subject):
        raise Invalid("The subject is one line, without control characters.", field="body.subject")
    if len(subject) > SUBJECT_MAX:
        raise Invalid(
            f"The subject has {len(subject)} characters; at most {SUBJECT_MAX}.",
            field="body.subject",
        )
    if not has_visible_character(body):
        raise Invalid("Write the message.", field="body.body")
    if len(body) > BODY_MAX:
        raise Invalid(
            f"The message has {len(body)} characters; at most {BODY_MAX}.", field="body.body"
        )
    return subject, body


def send_message(
    session: Session,
    event: Event,
    *,
    segment: str,
    subject: str,
    body: str,
    base_url: str,
    delegation: str = "",
    sender: str = "",
) -> Audience:
    """Queue the message to everyone in the segment (in the session's transaction; the caller
    commits) and say whom it reached. Nothing is queued when a field is wrong."""
    subject, body = check_message(subject, body)
    reached, people = _recipients(session, event, segment, delegation)
    link = participant_page(base_url, event)
    mails = [
        Mail(
            to=email,
            template="organiser_message",
            context={
                "participant_name": name,
                "event_name": event.name,
                "subject": subject,
                "body": body,
                "sender": sender,
                "page_url": link,
            },
        )
        for name, email in people
    ]
    queue(session, mails, event_id=event.id)
    return reached
