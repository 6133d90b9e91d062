"""Publishing a schedule version: one atomic step, one current published version per event.

Rules (documented in docs/api.md):

- Only a version that holds a schedule (solver status optimal or feasible) can be published.
- A version planned from another published version than the current one (or from none while
  one is published) would silently undo whatever the current one promised; publishing it
  needs `force=True`. This is also what makes two concurrent publishers safe: the second one
  to get the event's lock sees the first one's version and is refused, so exactly one wins.
- A stale version (wishes or registrations changed after its snapshot) needs `force=True`
  too: the organiser has seen which changes it does not include.
- The previous published version stays in the history (`published_at` kept, `superseded_at`
  set). Publishing the current published version again changes nothing.

`publish_version` writes in the caller's transaction and does not commit; the caller puts the
e-mails the result lists (`PublishResult.notifications`) in the outbox in the same transaction
(`queue_publication_mails`), and they are sent after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.organising.events import lock_event
from matchmaking.participants.registration import participant_page
from matchmaking.planning.versions import (
    SCHEDULE_STATUSES,
    MeetingChange,
    Placement,
    SnapshotChange,
    VersionDiff,
    diff_versions,
    version_staleness,
)
from matchmaking.platform import mail
from matchmaking.platform.mail import Mail
from matchmaking.platform.models import (
    Event,
    EventStatus,
    Location,
    Meeting,
    Participant,
    ScheduleVersion,
    Slot,
    utcnow,
)


class PublishError(Exception):
    """A version cannot be published; `code` names the rule, the message says what to do."""

    code = "not_publishable"


class VersionHasNoSchedule(PublishError):
    code = "no_schedule"


class PublishedVersionChanged(PublishError):
    code = "published_version_changed"


class VersionIsStale(PublishError):
    code = "stale"

    def __init__(self, message: str, changes: list[SnapshotChange]) -> None:
        super().__init__(message)
        self.changes = changes


@dataclass(frozen=True, slots=True)
class Notification:
    """An e-mail the publication sends (queued in its transaction, sent after the commit)."""

    participant_id: int
    kind: Literal["schedule_published", "meeting_changed"]
    changes: tuple[MeetingChange, ...] = ()


@dataclass(slots=True)
class PublishResult:
    version: ScheduleVersion
    previous: ScheduleVersion | None
    diff: VersionDiff | None
    #: The version was already the current published one: nothing changed.
    unchanged: bool = False
    notifications: list[Notification] = field(default_factory=list)


def current_published_version(session: Session, event_id: int) -> ScheduleVersion | None:
    """The event's published version (the one the agendas and calendars show)."""
    return session.scalars(
        select(ScheduleVersion)
        .where(
            ScheduleVersion.event_id == event_id,
            ScheduleVersion.published_at.is_not(None),
            ScheduleVersion.superseded_at.is_(None),
        )
        .execution_options(populate_existing=True)
    ).first()


def publication_history(session: Session, event_id: int) -> list[ScheduleVersion]:
    """Every version that was ever published, the earliest first."""
    return list(
        session.scalars(
            select(ScheduleVersion)
            .where(ScheduleVersion.event_id == event_id, ScheduleVersion.published_at.is_not(None))
            .order_by(ScheduleVersion.published_at, ScheduleVersion.number)
        )
    )


def publish_version(
    session: Session, version: ScheduleVersion, *, force: bool = False, now: datetime | None = None
) -> PublishResult:
    # One publisher at a time per event (the same event-row lock registrations take).
    event = lock_event(session, version.event)
    session.refresh(version)
    current = current_published_version(session, event.id)
    if current is not None and current.id == version.id:
        return PublishResult(version=version, previous=None, diff=None, unchanged=True)
    _check_publishable(session, version, current, force=force)

    diff = diff_versions(session, current, version)
    moment = now or utcnow()
    if current is not None:
        current.superseded_at = moment
        # The partial unique index sees the old version superseded before the new one appears.
        session.flush()
    version.published_at = moment
    version.superseded_at = None
    if event.status is not EventStatus.open:  # registration reopened after publishing stays open
        event.status = EventStatus.published
    session.flush()
    return PublishResult(
        version=version,
        previous=current,
        diff=diff,
        notifications=_notifications(session, event, current, diff),
    )


def _check_publishable(
    session: Session, version: ScheduleVersion, current: ScheduleVersion | None, *, force: bool
) -> None:
    if version.status not in SCHEDULE_STATUSES:
        raise VersionHasNoSchedule(
            f"version {version.number} has no schedule to publish (solver status "
            f"{version.status!r}); only optimal or feasible versions can be published"
        )
    if force:
        return
    current_id = current.id if current is not None else None
    if version.based_on_id != current_id:
        raise PublishedVersionChanged(_basis_message(session, version, current))
    staleness = version_staleness(session, version)
    if staleness.stale:
        raise VersionIsStale(
            f"version {version.number} is stale: {len(staleness.changes)} change(s) to wishes, "
            "registrations or who is away after its snapshot are not in it; re-plan, or publish "
            "with force=true to publish it anyway",
            staleness.changes,
        )


def _basis_message(
    session: Session, version: ScheduleVersion, current: ScheduleVersion | None
) -> str:
    based_on = session.get(ScheduleVersion, version.based_on_id) if version.based_on_id else None
    planned = f"planned from version {based_on.number}" if based_on else "planned from scratch"
    now_published = f"version {current.number} is published" if current else "none is published"
    return (
        f"version {version.number} was {planned}, but {now_published} now; re-plan from the "
        "published version, or publish with force=true to replace it anyway"
    )


def _notifications(
    session: Session, event: Event, previous: ScheduleVersion | None, diff: VersionDiff
) -> list[Notification]:
    """First publication: everyone learns the schedule is out. Later ones: only those whose
    meetings were added, moved or removed."""
    if previous is None:
        ids = session.scalars(select(Participant.id).where(Participant.event_id == event.id))
        return [Notification(pid, "schedule_published") for pid in sorted(ids)]
    by_participant: dict[int, list[MeetingChange]] = {}
    for change in diff.changes:
        for pid in change.participant_ids:
            by_participant.setdefault(pid, []).append(change)
    return [
        Notification(pid, "meeting_changed", tuple(changes))
        for pid, changes in sorted(by_participant.items())
    ]


# --- e-mails ------------------------------------------------------------------------------------


def queue_publication_mails(
    session: Session, event: Event, result: PublishResult, base_url: str
) -> int:
    """Put the e-mails of a publication in the outbox, in the publication's transaction (they
    are sent after the commit, never if it rolls back); returns how many."""
    return mail.queue(
        session, publication_mails(session, event, result, base_url), event_id=event.id
    )


def publication_mails(
    session: Session, event: Event, result: PublishResult, base_url: str
) -> list[Mail]:
    """The e-mails a publication sends, as plain values. Cheap enough for the publishing
    transaction: a few column queries, and meeting texts only when meetings changed."""
    if not result.notifications:
        return []
    wanted = {n.participant_id for n in result.notifications}
    people = {
        pid: (name, email)
        for pid, name, email in session.execute(
            select(Participant.id, Participant.name, Participant.email).where(
                Participant.event_id == event.id
            )
        )
        if pid in wanted
    }
    texts = _MeetingTexts(session, event) if any(n.changes for n in result.notifications) else None
    counts = _meetings_per_participant(session, result.version)
    page = participant_page(base_url, event)
    mails = []
    for notification in result.notifications:
        name, email = people.get(notification.participant_id, ("", ""))
        if not email:
            continue
        changes = (
            [texts.describe(change, notification.participant_id) for change in notification.changes]
            if texts is not None
            else []
        )
        context: dict[str, Any] = {
            "participant_name": name,
            "event_name": event.name,
            "version": result.version.number,
            "meetings": counts.get(notification.participant_id, 0),
            "page_url": page,
            "changes": changes,
        }
        mails.append(Mail(to=email, template=notification.kind, context=context))
    return mails


def _meetings_per_participant(session: Session, version: ScheduleVersion) -> dict[int, int]:
    counts: dict[int, int] = {}
    rows = session.execute(
        select(Meeting.participant_a_id, Meeting.participant_b_id).where(
            Meeting.version_id == version.id
        )
    )
    for a, b in rows:
        counts[a] = counts.get(a, 0) + 1
        counts[b] = counts.get(b, 0) + 1
    return counts


class _MeetingTexts:
    """Words for a meeting change as one participant sees it (time in the event's zone)."""

    def __init__(self, session: Session, event: Event) -> None:
        zone = ZoneInfo(event.timezone)
        self.slots = {
            s.key: s.start.replace(tzinfo=zone).strftime("%a %d %b %H:%M %Z")
            for s in session.scalars(select(Slot).where(Slot.event_id == event.id))
        }
        self.locations = {
            loc.key: loc.name
            for loc in session.scalars(select(Location).where(Location.event_id == event.id))
        }
        rows = session.execute(
            select(Participant.id, Participant.name).where(Participant.event_id == event.id)
        )
        self.names = {pid: name for pid, name in rows}

    def describe(self, change: MeetingChange, participant_id: int) -> dict[str, str]:
        placement = change.new or change.old
        if placement is None:
            raise AssertionError("placement is not None")
        others = [pid for pid in placement.participant_ids if pid != participant_id]
        return {
            "change": {"added": "new", "moved": "moved", "removed": "cancelled"}[change.change],
            "with": self.names.get(others[0], "") if others else "",
            "old": self._where(change.old),
            "new": self._where(change.new),
        }

    def _where(self, placement: Placement | None) -> str:
        if placement is None:
            return ""
        slot = self.slots.get(placement.slot, placement.slot)
        return f"{slot}, {self.locations.get(placement.location, placement.location)}"
