"""Schedule versions: the diff of two versions, their statistics, and their staleness.

A version is the result of one solve over a snapshot of the event. Meetings keep their `uid`
across versions, so two versions are compared meeting by meeting: a uid only in the newer one
was added, only in the older one was removed, in both with another slot, location or
counterpart was moved. A version is stale when wishes or registrations changed after its
snapshot was taken: the organiser sees which changes it does not include before publishing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, literal, or_, select, union_all
from sqlalchemy.orm import Session, selectinload

from matchmaking.organising.events import event_rows
from matchmaking.planning.rest_of_day import away_slots, wall_clock
from matchmaking.planning.snapshot import problem_from_event
from matchmaking.platform.errors import NotFound
from matchmaking.platform.models import (
    Absence,
    Event,
    HandEdit,
    Location,
    Meeting,
    MeetingWish,
    Participant,
    ScheduleVersion,
    Slot,
    Wish,
    WishStatus,
    utcnow,
)
from solver.problem import Problem

#: Solver statuses of a version that holds a schedule (something that can be published).
SCHEDULE_STATUSES = frozenset({"optimal", "feasible"})
MEETING_KINDS = ("C2C", "C2B", "B2B")


#: Version numbers are stored in a 32-bit column; larger ones cannot exist (and PostgreSQL
#: would refuse to compare with them).
_LARGEST_NUMBER = 2**31 - 1


def numbered_version(db: Session, event: Event, number: int) -> ScheduleVersion:
    """The event's schedule version of that number; `NotFound` names the number otherwise."""
    version = (
        db.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.event_id == event.id, ScheduleVersion.number == number
            )
        )
        if 1 <= number <= _LARGEST_NUMBER
        else None
    )
    if version is None:
        raise NotFound(f"The event has no schedule version {number}.")
    return version


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored timestamp is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def load_meetings(session: Session, version: ScheduleVersion) -> list[Meeting]:
    """The version's meetings with everything a diff, a statistic or an agenda reads."""
    query = (
        select(Meeting)
        .where(Meeting.version_id == version.id)
        .options(
            selectinload(Meeting.slot),
            selectinload(Meeting.location),
            selectinload(Meeting.participant_a).selectinload(Participant.organisation),
            selectinload(Meeting.participant_b).selectinload(Participant.organisation),
            selectinload(Meeting.wishes),
        )
        .order_by(Meeting.id)
    )
    return list(session.scalars(query))


# --- diff -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and with whom a meeting is held in one version."""

    slot: str
    location: str
    participants: tuple[str, str]
    participant_ids: tuple[int, int]
    #: What a person reads: when (event time, naive), the location's name, who (names and
    #: organisations).
    starts: datetime | None = None
    ends: datetime | None = None
    location_name: str = ""
    names: tuple[str, str] = ("", "")
    organisations: tuple[str, str] = ("", "")

    @classmethod
    def of(cls, meeting: Meeting) -> Placement:
        a, b = meeting.participant_a, meeting.participant_b
        return cls(
            slot=meeting.slot.key,
            location=meeting.location.key,
            participants=(a.key, b.key),
            participant_ids=(meeting.participant_a_id, meeting.participant_b_id),
            starts=meeting.slot.start,
            ends=meeting.slot.end,
            location_name=meeting.location.name,
            names=(a.name, b.name),
            organisations=(a.organisation.name, b.organisation.name),
        )

    def same_meeting_as(self, other: Placement) -> bool:
        return (
            self.slot == other.slot
            and self.location == other.location
            and set(self.participant_ids) == set(other.participant_ids)
        )


@dataclass(frozen=True, slots=True)
class MeetingChange:
    uid: str
    change: Literal["added", "moved", "removed"]
    wishes: tuple[str, ...]
    old: Placement | None
    new: Placement | None
    #: Moved, added or cancelled by an organiser's hand edit (matchmaking/planning/hand_edits.py).
    by_hand: bool = False

    @property
    def participant_ids(self) -> set[int]:
        ids: set[int] = set()
        for placement in (self.old, self.new):
            if placement is not None:
                ids.update(placement.participant_ids)
        return ids


@dataclass(slots=True)
class VersionDiff:
    """How `new` differs from `old` (`old` None: every meeting of `new` is added)."""

    old_number: int | None
    new_number: int
    added: list[MeetingChange] = field(default_factory=list)
    moved: list[MeetingChange] = field(default_factory=list)
    removed: list[MeetingChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changes(self) -> list[MeetingChange]:
        return [*self.added, *self.moved, *self.removed]

    def affected_participant_ids(self) -> set[int]:
        """Participants who have a meeting added, moved or removed."""
        ids: set[int] = set()
        for change in self.changes:
            ids |= change.participant_ids
        return ids


def _by_uid(meetings: Iterable[Meeting]) -> dict[str, Meeting]:
    return {meeting.uid: meeting for meeting in meetings}


def _wish_keys(meeting: Meeting) -> tuple[str, ...]:
    return tuple(wish.key for wish in meeting.wishes)


def diff_meetings(
    old: Sequence[Meeting],
    new: Sequence[Meeting],
    *,
    old_number: int | None,
    new_number: int,
    cancelled_by_hand: frozenset[str] = frozenset(),
) -> VersionDiff:
    """`cancelled_by_hand`: uids of meetings the newer version's hand edits cancelled."""
    before, after = _by_uid(old), _by_uid(new)
    diff = VersionDiff(old_number=old_number, new_number=new_number)
    for uid, meeting in after.items():
        placement = Placement.of(meeting)
        previous = before.get(uid)
        if previous is None:
            diff.added.append(
                MeetingChange(
                    uid, "added", _wish_keys(meeting), None, placement, meeting.placed_by_hand
                )
            )
        elif Placement.of(previous).same_meeting_as(placement):
            diff.unchanged += 1
        else:
            change = MeetingChange(
                uid,
                "moved",
                _wish_keys(meeting),
                Placement.of(previous),
                placement,
                meeting.placed_by_hand,
            )
            diff.moved.append(change)
    for uid, meeting in before.items():
        if uid not in after:
            removed = MeetingChange(
                uid,
                "removed",
                _wish_keys(meeting),
                Placement.of(meeting),
                None,
                uid in cancelled_by_hand,
            )
            diff.removed.append(removed)
    return diff


def diff_versions(
    session: Session, old: ScheduleVersion | None, new: ScheduleVersion
) -> VersionDiff:
    old_meetings = load_meetings(session, old) if old is not None else []
    return diff_meetings(
        old_meetings,
        load_meetings(session, new),
        old_number=old.number if old is not None else None,
        new_number=new.number,
        cancelled_by_hand=cancelled_by_hand(session, new),
    )


def cancelled_by_hand(session: Session, version: ScheduleVersion) -> frozenset[str]:
    """Uids of the meetings the version's hand edits cancelled."""
    return frozenset(
        session.scalars(
            select(HandEdit.uid).where(
                HandEdit.version_id == version.id, HandEdit.kind == "cancelled"
            )
        )
    )


# --- impact: what publishing a version does to people ------------------------------------

#: Goal values a version stores, how a person reads them, and whether more is better.
IMPACT_GOALS: tuple[tuple[str, str, bool], ...] = (
    ("required", "required wishes not met", False),
    ("scheduled", "wishes met", True),
    ("scheduled_weight", "wishes met, weighted by priority", True),
    ("min_share", "smallest share of a participant's wishes met", True),
    ("breaks", "breaks between meetings", False),
)


@dataclass(frozen=True, slots=True)
class GoalChange:
    goal: str
    label: str
    before: float | None
    after: float | None
    #: "better", "worse", "same" (or "unknown" when one side has no value).
    verdict: Literal["better", "worse", "same", "unknown"]


@dataclass(slots=True)
class PersonImpact:
    participant_id: int
    key: str
    name: str
    organisation: str
    moved: int = 0
    cancelled: int = 0
    added: int = 0


@dataclass(slots=True)
class VersionImpact:
    """What publishing `diff.new_number` instead of the published version does to people:
    meetings moved, cancelled and added, who is affected, and each goal before and after."""

    diff: VersionDiff
    people: list[PersonImpact]
    goals: list[GoalChange]

    @property
    def needs_confirmation(self) -> bool:
        """Cancelled meetings are promises broken: publishing asks to confirm them."""
        return bool(self.diff.removed)


def version_impact(
    session: Session, published: ScheduleVersion | None, version: ScheduleVersion
) -> VersionImpact:
    """The impact of publishing `version` where `published` is published (None: nothing)."""
    old = load_meetings(session, published) if published is not None else []
    new = load_meetings(session, version)
    diff = diff_meetings(
        old,
        new,
        old_number=published.number if published else None,
        new_number=version.number,
        cancelled_by_hand=cancelled_by_hand(session, version),
    )
    people: dict[int, PersonImpact] = {}
    by_id = {p.id: p for m in [*old, *new] for p in (m.participant_a, m.participant_b)}
    counted = {"moved": diff.moved, "cancelled": diff.removed, "added": diff.added}
    for what, changes in counted.items():
        for change in changes:
            for pid in change.participant_ids:
                person = by_id[pid]
                entry = people.setdefault(
                    pid, PersonImpact(pid, person.key, person.name, person.organisation.name)
                )
                setattr(entry, what, getattr(entry, what) + 1)
    ordered = sorted(
        people.values(), key=lambda p: (-p.cancelled, -p.moved, -p.added, p.name.lower())
    )
    before = published.objective if published is not None else {}
    goals = [
        _goal_change(key, label, more_is_better, before.get(key), version.objective.get(key))
        for key, label, more_is_better in IMPACT_GOALS
        if key in before or key in version.objective
    ]
    return VersionImpact(diff=diff, people=ordered, goals=goals)


def changes_before(diff: VersionDiff, moment: datetime) -> list[MeetingChange]:
    """The diff's changes that touch a time before `moment` (event time, naive, as slots
    are): a meeting moved from or to it, cancelled or added there. During an event these are
    meetings already held or missed, which publishing cannot change any more."""
    return [
        change
        for change in (*diff.moved, *diff.removed, *diff.added)
        if any(
            placement is not None and placement.starts is not None and placement.starts < moment
            for placement in (change.old, change.new)
        )
    ]


def _goal_change(key: str, label: str, more_is_better: bool, before: Any, after: Any) -> GoalChange:
    if before is None or after is None:
        verdict: Literal["better", "worse", "same", "unknown"] = "unknown"
    elif abs(float(after) - float(before)) < 1e-9:
        verdict = "same"
    else:
        verdict = "better" if (float(after) > float(before)) == more_is_better else "worse"
    return GoalChange(key, label, before, after, verdict)


# --- statistics ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotUse:
    slot: str
    start: datetime
    end: datetime
    meetings: int
    #: Meetings the event's locations hold at once.
    capacity: int
    #: Meetings per location key (locations without a meeting are left out).
    by_location: dict[str, int]


@dataclass(slots=True)
class VersionStatistics:
    #: Wishes sent before the snapshot (requested, accepted or declined; withdrawn ones not).
    requested: int
    #: Accepted wishes the solve had to place (met ones plus unscheduled ones).
    accepted: int
    #: Accepted wishes met by a meeting.
    scheduled: int
    #: scheduled / accepted (1.0 when nothing was accepted).
    scheduled_share: float
    meetings: int
    kinds: dict[str, int]
    location_use: list[SlotUse]
    #: Number of participants (registered at the snapshot) by their number of meetings.
    meetings_per_participant: dict[int, int]
    unscheduled_by_reason: dict[str, int]


def version_statistics(
    session: Session, version: ScheduleVersion, *, by_location: bool = True
) -> VersionStatistics:
    """The figures of a version (`by_location=False`: without the meetings per location of
    each slot, which an event of hundreds of tables has thousands of)."""
    # Counted by the database (GROUP BY), not by loading meetings: the version page of an
    # event with thousands of meetings stays quick.
    place = Location.key if by_location else literal("")
    groups = session.execute(
        select(Meeting.slot_id, place, Meeting.kind, func.count())
        .join(Location, Meeting.location_id == Location.id)
        .where(Meeting.version_id == version.id)
        .group_by(Meeting.slot_id, place, Meeting.kind)
    ).all()
    met_wishes = (
        select(Wish.key)
        .join(MeetingWish, MeetingWish.wish_id == Wish.id)
        .join(Meeting, MeetingWish.meeting_id == Meeting.id)
        .where(Meeting.version_id == version.id)
        .distinct()
        .subquery()
    )
    scheduled = session.scalar(select(func.count()).select_from(met_wishes)) or 0
    unscheduled = unscheduled_wish_keys(version)
    # A wish both met and listed as unscheduled counts once (never happens in a solve's own
    # result, but a stored version is only data).
    both = (
        session.scalar(
            select(func.count())
            .select_from(met_wishes)
            .where(met_wishes.c.key.in_(sorted(unscheduled)))
        )
        if unscheduled
        else 0
    ) or 0
    accepted = scheduled + len(unscheduled) - both
    kinds: Counter[str] = Counter()
    for _, _, kind, n in groups:
        kinds[kind] += n
    return VersionStatistics(
        requested=_requested_before(session, version),
        accepted=accepted,
        scheduled=scheduled,
        scheduled_share=scheduled / accepted if accepted else 1.0,
        meetings=sum(n for *_, n in groups),
        kinds={kind: kinds[kind] for kind in MEETING_KINDS},
        location_use=_location_use(session, version, groups),
        meetings_per_participant=_meetings_histogram(session, version),
        unscheduled_by_reason=dict(Counter(u["reason"] for u in version.unscheduled)),
    )


def unscheduled_wish_keys(version: ScheduleVersion) -> set[str]:
    return {entry["wish"] for entry in version.unscheduled}


@dataclass(frozen=True)
class UnscheduledEntry:
    """One wish a version could not place: its key, the reason code and detail the solver
    gave, and the wish as stored now (None when it is gone since), with its sender, recipient
    and their organisations loaded."""

    key: str
    reason: str
    detail: str
    wish: Wish | None


def unscheduled_wishes(
    session: Session, event: Event, entries: Sequence[dict[str, Any]]
) -> list[UnscheduledEntry]:
    """`entries` (all or some of a version's `unscheduled`) with their wishes, in one query:
    what the API and the version page both show."""
    wishes = event_rows(
        session,
        event,
        Wish,
        (entry["wish"] for entry in entries),
        selectinload(Wish.sender).selectinload(Participant.organisation),
        selectinload(Wish.recipient).selectinload(Participant.organisation),
        selectinload(Wish.recipient_organisation),
    )
    return [
        UnscheduledEntry(
            key=str(entry["wish"]),
            reason=str(entry.get("reason", "")),
            detail=str(entry.get("detail", "")),
            wish=wishes.get(entry["wish"]),
        )
        for entry in entries
    ]


def _requested_before(session: Session, version: ScheduleVersion) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Wish.event_id == version.event_id,
                Wish.status != WishStatus.cancelled,
                Wish.created_at <= version.snapshot_at,
            )
        )
        or 0
    )


def _location_use(
    session: Session, version: ScheduleVersion, groups: Sequence[Any]
) -> list[SlotUse]:
    slots = session.execute(
        select(Slot.id, Slot.key, Slot.start, Slot.end)
        .where(Slot.event_id == version.event_id)
        .order_by(Slot.start, Slot.id)
    )
    capacity = sum(
        session.scalars(select(Location.capacity).where(Location.event_id == version.event_id))
    )
    per_slot: dict[int, Counter[str]] = {}
    for slot_id, location_key, _, n in groups:
        per_slot.setdefault(slot_id, Counter())[location_key] += n
    return [
        SlotUse(
            slot=key,
            start=start,
            end=end,
            meetings=sum(per_slot.get(slot_id, Counter()).values()),
            capacity=capacity,
            by_location=dict(sorted(per_slot.get(slot_id, Counter()).items())),
        )
        for slot_id, key, start, end in slots
    ]


def _meetings_histogram(session: Session, version: ScheduleVersion) -> dict[int, int]:
    """Participants registered at the snapshot, by their number of meetings (in SQL)."""
    sides = union_all(
        select(Meeting.participant_a_id.label("pid")).where(Meeting.version_id == version.id),
        select(Meeting.participant_b_id.label("pid")).where(Meeting.version_id == version.id),
    ).subquery()
    registered_then = (
        Participant.event_id == version.event_id,
        Participant.created_at <= version.snapshot_at,
    )
    per_person = (
        select(sides.c.pid, func.count().label("n"))
        .join(Participant, Participant.id == sides.c.pid)
        .where(*registered_then)
        .group_by(sides.c.pid)
        .subquery()
    )
    histogram = {
        int(n): int(people)
        for n, people in session.execute(
            select(per_person.c.n, func.count()).group_by(per_person.c.n)
        )
    }
    registered = session.scalar(select(func.count()).where(*registered_then)) or 0
    without = registered - sum(histogram.values())
    if without:
        histogram[0] = without
    return dict(sorted(histogram.items()))


# --- staleness ----------------------------------------------------------------------------

ChangeKind = Literal[
    "wish_added",
    "wish_changed",
    "wish_withdrawn",
    "participant_registered",
    "participant_changed",
    "participant_away",
]


@dataclass(frozen=True, slots=True)
class SnapshotChange:
    """A change to wishes or registrations after the version's snapshot."""

    kind: ChangeKind
    #: Key of the wish or participant.
    key: str
    at: datetime
    detail: str


@dataclass(slots=True)
class Staleness:
    snapshot_at: datetime
    changes: list[SnapshotChange]

    @property
    def stale(self) -> bool:
        return bool(self.changes)


def version_staleness(session: Session, version: ScheduleVersion) -> Staleness:
    """Which wishes and registrations changed after the version's snapshot.

    A version made by a solve job carries fingerprints of the participants and wishes its
    snapshot held, so only changes that matter to the schedule count (a participant who asks
    for a new personal link changes nothing). Without them (versions stored by other means),
    timestamps find what changed since, and the version's own content (the wishes it met or
    explained as unscheduled) catches an accepted wish it does not include.
    """
    snapshot = as_utc(version.snapshot_at)
    if version.snapshot_digest:
        changes = _changes_by_content(session, version)
    else:
        changes = _wish_changes(session, version, snapshot) + _participant_changes(
            session, version.event_id, snapshot
        )
    changes += _away_but_planned(session, version)
    changes.sort(key=lambda change: (change.at, change.kind, change.key))
    return Staleness(snapshot_at=snapshot, changes=changes)


#: Fields added to the solver's data after versions were stored with digests: left out of a
#: digest while at their default, so those versions do not all look changed.
_ADDED_FIELDS = frozenset({"represents_organisation", "delegation", "proposed"})


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _ADDED_FIELDS or getattr(value, f.name) != f.default
        }
    if isinstance(value, set | frozenset):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _digest(item: Any) -> str:
    text = json.dumps(_canonical(item), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def snapshot_digest(problem: Problem) -> dict[str, dict[str, str]]:
    """Fingerprints of what a solve's problem holds, per participant and per wish."""
    return {
        "participants": {p.id: _digest(p) for p in problem.participants},
        "wishes": {w.id: _digest(w) for w in problem.wishes},
    }


def _compare(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """key → added / removed / changed."""
    found = {key: "added" for key in new.keys() - old.keys()}
    found.update({key: "removed" for key in old.keys() - new.keys()})
    found.update({key: "changed" for key in old.keys() & new.keys() if old[key] != new[key]})
    return found


def _changes_by_content(session: Session, version: ScheduleVersion) -> list[SnapshotChange]:
    event = session.get_one(Event, version.event_id)
    now = snapshot_digest(problem_from_event(session, event).problem)
    then = version.snapshot_digest
    changes = _wish_changes_by_content(
        session, event, _compare(then.get("wishes", {}), now["wishes"])
    )
    changes += _participant_changes_by_content(
        session, event, _compare(then.get("participants", {}), now["participants"])
    )
    return changes


def _wish_changes_by_content(
    session: Session, event: Event, found: dict[str, str]
) -> list[SnapshotChange]:
    wishes = event_rows(
        session, event, Wish, found, selectinload(Wish.sender), selectinload(Wish.recipient)
    )
    kinds: dict[str, ChangeKind] = {
        "added": "wish_added",
        "removed": "wish_withdrawn",
        "changed": "wish_changed",
    }
    changes = []
    for key, how in found.items():
        wish = wishes.get(key)
        if wish is None:
            changes.append(SnapshotChange(kinds[how], key, utcnow(), "the wish was deleted"))
            continue
        who = f"{wish.sender.name} → {_recipient_name(wish)}"
        detail = {
            "added": f"{who}: accepted, not in this version",
            "removed": f"{who}: now {wish.status.value}, still planned",
            "changed": f"{who}: changed after the solve",
        }[how]
        at = max(as_utc(wish.created_at), as_utc(wish.updated_at))
        changes.append(SnapshotChange(kinds[how], key, at, detail))
    return changes


def _participant_changes_by_content(
    session: Session, event: Event, found: dict[str, str]
) -> list[SnapshotChange]:
    people = event_rows(session, event, Participant, found)
    changes = []
    for key, how in found.items():
        person = people.get(key)
        if person is None:
            changes.append(
                SnapshotChange("participant_changed", key, utcnow(), f"{key} no longer takes part")
            )
        elif how == "added":
            at = as_utc(person.created_at)
            changes.append(
                SnapshotChange("participant_registered", key, at, f"{person.name} registered")
            )
        else:
            at = as_utc(person.updated_at)
            detail = (
                f"{person.name}: attendance, availability, cap, host table or organisation changed"
            )
            changes.append(SnapshotChange("participant_changed", key, at, detail))
    return changes


def version_wish_keys(session: Session, version: ScheduleVersion) -> set[str]:
    """Keys of the accepted wishes the version's solve worked on."""
    met = session.scalars(
        select(Wish.key).join(Meeting.wishes).where(Meeting.version_id == version.id)
    )
    return set(met) | unscheduled_wish_keys(version)


def _wish_changes(
    session: Session, version: ScheduleVersion, snapshot: datetime
) -> list[SnapshotChange]:
    included = version_wish_keys(session, version)
    wishes = session.scalars(
        select(Wish)
        .where(Wish.event_id == version.event_id)
        .where(
            or_(
                Wish.status == WishStatus.accepted,
                Wish.key.in_(included),
                Wish.updated_at > snapshot,
                Wish.created_at > snapshot,
            )
        )
        .options(selectinload(Wish.sender), selectinload(Wish.recipient))
    )
    changes = []
    for wish in wishes:
        change = _wish_change(wish, wish.key in included, snapshot)
        if change is not None:
            changes.append(change)
    return changes


def _wish_change(wish: Wish, included: bool, snapshot: datetime) -> SnapshotChange | None:
    accepted = wish.status == WishStatus.accepted
    created, updated = as_utc(wish.created_at), as_utc(wish.updated_at)
    who = f"{wish.sender.name} → {_recipient_name(wish)}"
    if accepted and not included:
        return SnapshotChange(
            "wish_added", wish.key, max(created, updated), f"{who}: accepted, not in this version"
        )
    if included and not accepted:
        return SnapshotChange(
            "wish_withdrawn", wish.key, updated, f"{who}: now {wish.status.value}, still planned"
        )
    if included and updated > snapshot:
        return SnapshotChange("wish_changed", wish.key, updated, f"{who}: changed after the solve")
    return None


def _away_but_planned(session: Session, version: ScheduleVersion) -> list[SnapshotChange]:
    """People marked away whom the version still plans in a slot they are away for."""
    event = session.get_one(Event, version.event_id)
    frozen_before = version.parameters.get("frozen_before")
    slots_away = away_slots(
        session, event, datetime.fromisoformat(frozen_before) if frozen_before else None
    )
    if not slots_away:
        return []
    away = {
        p.id: (p, absence)
        for p, absence in session.execute(
            select(Participant, Absence)
            .join(Absence, Absence.participant_id == Participant.id)
            .where(Participant.event_id == event.id)
        ).tuples()
    }
    planned: Counter[int] = Counter()
    meetings = session.execute(
        select(Meeting.participant_a_id, Meeting.participant_b_id, Slot.key)
        .join(Slot, Meeting.slot_id == Slot.id)
        .where(
            Meeting.version_id == version.id,
            or_(Meeting.participant_a_id.in_(away), Meeting.participant_b_id.in_(away)),
        )
    )
    for a, b, slot in meetings:
        planned.update(
            pid for pid in (a, b) if pid in away and slot in slots_away[away[pid][0].key]
        )
    changes = []
    for pid, count in planned.items():
        person, absence = away[pid]
        since = wall_clock(event, absence.absent_from).strftime("%a %d %b %H:%M")
        detail = (
            f"{person.name} is away from {since}, but this version still plans {count} "
            f"meeting{'s' * (count != 1)} for them after that"
        )
        changes.append(
            SnapshotChange("participant_away", person.key, as_utc(absence.created_at), detail)
        )
    return changes


def _recipient_name(wish: Wish) -> str:
    if wish.recipient is not None:
        return wish.recipient.name
    organisation = wish.recipient_organisation
    return organisation.name if organisation is not None else "?"


def _participant_changes(
    session: Session, event_id: int, snapshot: datetime
) -> list[SnapshotChange]:
    participants = session.scalars(
        select(Participant).where(
            Participant.event_id == event_id,
            or_(Participant.created_at > snapshot, Participant.updated_at > snapshot),
        )
    )
    changes = []
    for participant in participants:
        created, updated = as_utc(participant.created_at), as_utc(participant.updated_at)
        if created > snapshot:
            change = SnapshotChange(
                "participant_registered", participant.key, created, f"{participant.name} registered"
            )
        elif updated > snapshot:
            change = SnapshotChange(
                "participant_changed", participant.key, updated, f"{participant.name} changed"
            )
        else:  # naive/aware rounding put it on the boundary: not a change
            continue
        changes.append(change)
    return changes


def latest_version(session: Session, event: Event) -> ScheduleVersion | None:
    return session.scalars(
        select(ScheduleVersion)
        .where(ScheduleVersion.event_id == event.id)
        .order_by(ScheduleVersion.number.desc())
        .limit(1)
    ).first()


# --- the schedule document ----------------------------------------------------------------------

SCHEDULE_FORMAT = "matchmaking-schedule/1"


def _number(key: str, value: Any) -> Any:
    # Counts are whole numbers in the document; min_share stays a fraction.
    if key != "min_share" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def schedule_document(session: Session, event: Event, version: ScheduleVersion) -> dict[str, Any]:
    """The version in the public schedule format (docs/bundle-format.md): meetings by slot
    (chronological), then location (as listed), then wishes."""
    meetings = sorted(
        load_meetings(session, version),
        key=lambda m: (m.slot.start, m.slot.id, m.location.position, m.location.id, m.id),
    )
    document: dict[str, Any] = {
        "format": SCHEDULE_FORMAT,
        "event": event.slug,
        "status": version.status,
        "objective": {k: _number(k, v) for k, v in version.objective.items()},
        "bound": {k: _number(k, v) for k, v in version.bound.items()},
        "solve_seconds": round(version.solve_seconds, 3),
        "meetings": [
            {
                "wishes": list(_wish_keys(m)),
                "slot": m.slot.key,
                "location": m.location.key,
                "participants": [m.participant_a.key, m.participant_b.key],
                "kind": m.kind,
            }
            for m in meetings
        ],
        "unscheduled": [
            {"wish": u["wish"], "reason": u["reason"], "detail": u.get("detail", "")}
            for u in version.unscheduled
        ],
    }
    if version.conflicts:
        document["conflicts"] = [
            {"wishes": list(c["wishes"]), "rule": c["rule"], "detail": c["detail"]}
            for c in version.conflicts
        ]
    return document
