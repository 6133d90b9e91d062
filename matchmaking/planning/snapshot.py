"""An event as the solver sees it: the snapshot a solve works from, and the goal order.

`problem_from_event` reads what the solver needs at one instant (the snapshot); `goal_order`
decides in which order the goals are optimised. Both the solve round (`scheduling`) and the
staleness check of a stored version (`versions`) read the event through here, so that they
see the same problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, aliased, selectinload

from matchmaking.planning.delegations import apply_delegations, event_delegations
from matchmaking.platform.models import (
    Attendance,
    Event,
    EventSession,
    Location,
    Meeting,
    Organisation,
    OrganisationKind,
    Participant,
    ParticipantUnavailableSlot,
    ScheduleVersion,
    Slot,
    Wish,
    WishPrecedence,
    WishStatus,
    utcnow,
)
from solver import problem as sp

#: Goal names a stored rules object may list; anything else is ignored with the default order.
_KNOWN_GOALS = frozenset(sp.GOALS)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a solve works from: the problem, when it was read, and which rows it contains.

    `wish_keys` are the accepted wishes in the problem and `participant_keys` every
    participant; the API compares them (and `taken_at`) with the event as it is later to say
    which changes a version does not include.
    """

    event_id: int
    problem: sp.Problem
    taken_at: datetime
    wish_keys: frozenset[str]
    participant_keys: frozenset[str]
    #: The published version this snapshot re-plans from (its meetings are `problem.published`).
    based_on_id: int | None = None


#: Goals a re-plan ranks above `stability`: a published meeting moves only when that meets
#: more wishes or wishes of a higher priority (required ones are rules, always met).
PROMISE_GOALS = ("required", "scheduled")


def goal_order(
    rules: Mapping[str, Any] | None,
    *,
    replan: bool,
    objective: Sequence[str] | None = None,
    move_published: bool = False,
) -> tuple[str, ...]:
    """The order in which a solve optimises the goals.

    The order asked for this solve (`objective`), else the event's own (`rules["objective"]`),
    else the default. A re-plan keeps the published schedule's promise whatever that order:
    `stability` comes right after `required` and `scheduled`, so a published meeting moves
    only to meet more or higher-priority wishes, never to save a break or even out shares.
    With `move_published` the organiser chose otherwise: the order is kept as it is (with
    `stability` last when it names no place for it), and meetings may move for any goal
    ranked above it.
    """
    chosen = objective if objective is not None else (rules or {}).get("objective")
    goals = tuple(str(g) for g in chosen or () if g in _KNOWN_GOALS) or sp.DEFAULT_OBJECTIVE
    if not replan:
        return goals
    if move_published:
        return goals if "stability" in goals else (*goals, "stability")
    first = tuple(g for g in goals if g in PROMISE_GOALS)
    rest = tuple(g for g in goals if g not in PROMISE_GOALS and g != "stability")
    return (*first, "stability", *rest)


def problem_from_event(
    session: Session,
    event: Event,
    *,
    replan_from: ScheduleVersion | None = None,
    objective: tuple[str, ...] | None = None,
) -> Snapshot:
    """Read the event as the solver's `Problem`; only accepted wishes become candidates.

    With `replan_from` (normally the published version) its meetings become
    `problem.published`, so the stability goal keeps them where they were. `objective` is the
    goal order (default: `goal_order` of the event's rules).
    """
    taken_at = utcnow()
    slots = _load_slots(session, event)
    locations = session.scalars(
        select(Location)
        .where(Location.event_id == event.id)
        .order_by(Location.position, Location.id)
    ).all()
    participants = _solver_participants(session, event)
    wishes = _solver_wishes(session, event)
    accepted = frozenset(w.id for w in wishes)
    rules = event.rules or {}
    problem = sp.Problem(
        event=event.slug,
        slots=_solver_slots(slots),
        locations=tuple(_solver_location(loc) for loc in locations),
        participants=participants,
        wishes=wishes,
        max_meetings_per_participant=_optional_int(rules.get("max_meetings_per_participant")),
        max_meetings_total=_optional_int(rules.get("max_meetings_total")),
        max_break_difference=_optional_int(rules.get("max_break_difference")),
        objective=objective or goal_order(rules, replan=replan_from is not None),
        published=tuple(_published_meetings(session, replan_from)),
    )
    if rules.get("cross_delegation_only"):
        problem = apply_delegations(problem, event_delegations(session, event), True)
    return Snapshot(
        event_id=event.id,
        problem=problem,
        taken_at=taken_at,
        wish_keys=accepted,
        participant_keys=frozenset(p.id for p in participants),
        based_on_id=replan_from.id if replan_from is not None else None,
    )


def _load_slots(session: Session, event: Event) -> list[Slot]:
    return list(
        session.scalars(
            select(Slot)
            .where(Slot.event_id == event.id)
            .options(selectinload(Slot.session))
            .order_by(Slot.start, Slot.id)
        ).all()
    )


def _solver_slots(slots: list[Slot]) -> tuple[sp.Slot, ...]:
    # Minutes are counted from midnight of the first slot's day, so they grow across days.
    if not slots:
        return ()
    first_day = slots[0].start.date()

    def minutes(moment: datetime) -> int:
        days = (moment.date() - first_day).days
        return days * 24 * 60 + moment.hour * 60 + moment.minute

    return tuple(
        sp.Slot(
            id=s.key,
            session=s.session.key,
            day=s.start.date().isoformat(),
            start_minute=minutes(s.start),
            end_minute=minutes(s.end),
        )
        for s in slots
    )


def _solver_location(location: Location) -> sp.Location:
    return sp.Location(id=location.key, kind=location.kind.value, capacity=location.capacity)


# Participants and wishes are read as plain joined rows: loading tens of thousands of ORM
# objects with their relationships would take seconds, and staleness checks read this too.


def _solver_participants(session: Session, event: Event) -> tuple[sp.Participant, ...]:
    host = aliased(Location)
    unavailable: dict[int, set[str]] = {}
    for participant_id, slot_key in session.execute(
        select(ParticipantUnavailableSlot.participant_id, Slot.key)
        .join(Slot, ParticipantUnavailableSlot.slot_id == Slot.id)
        .where(Slot.event_id == event.id)
    ):
        unavailable.setdefault(participant_id, set()).add(slot_key)
    rows = session.execute(
        select(
            Participant.id,
            Participant.key,
            Organisation.key,
            Organisation.kind,
            Participant.attendance,
            Participant.max_meetings,
            host.key,
            Participant.membership_confirmed,
        )
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .outerjoin(host, Participant.host_location_id == host.id)
        .where(Participant.event_id == event.id)
        .order_by(Participant.id)
    )
    return tuple(
        sp.Participant(
            id=key,
            organisation=organisation,
            organisation_kind=OrganisationKind(kind).value,
            online=attendance == Attendance.online,
            unavailable=frozenset(unavailable.get(row_id, ())),
            max_meetings=max_meetings,
            host_location=host_key,
            # A pending member takes no meeting addressed to the organisation (see
            # matchmaking.participants.registration): typing its name must not hand out its
            # meetings.
            represents_organisation=confirmed,
        )
        for row_id, key, organisation, kind, attendance, max_meetings, host_key, confirmed in rows
    )


def wish_rows(
    session: Session, event: Event, *, accepted_only: bool = False
) -> tuple[list[Row[Any]], dict[int, list[str]]]:
    """The event's wishes as plain joined rows (loading 25,000 Wish objects with their six
    relationships takes seconds), with bundle keys in place of row ids, in the order they were
    made; and each wish's `after` keys by wish row id. With `accepted_only`, only accepted
    wishes, and an `after` naming a wish that is not accepted is left out."""
    sender, recipient, before = aliased(Participant), aliased(Participant), aliased(Wish)
    wanted = [Wish.event_id == event.id]
    before_wanted = [before.event_id == event.id]
    if accepted_only:
        wanted.append(Wish.status == WishStatus.accepted)
        before_wanted.append(before.status == WishStatus.accepted)
    after: dict[int, list[str]] = {}
    for wish_id, before_key in session.execute(
        select(WishPrecedence.wish_id, before.key)
        .join(before, WishPrecedence.before_id == before.id)
        .where(*before_wanted)
        .order_by(WishPrecedence.wish_id, before.id)
    ):
        after.setdefault(wish_id, []).append(before_key)
    rows = session.execute(
        select(
            Wish.id,
            Wish.key,
            sender.key.label("sender_key"),
            recipient.key.label("recipient_key"),
            Organisation.key.label("organisation_key"),
            Wish.priority,
            Wish.status,
            Wish.required,
            EventSession.key.label("session_key"),
            Slot.key.label("slot_key"),
            Wish.separate,
            Wish.message,
            Wish.proposed,
        )
        .join(sender, Wish.sender_id == sender.id)
        .outerjoin(recipient, Wish.recipient_id == recipient.id)
        .outerjoin(Organisation, Wish.recipient_organisation_id == Organisation.id)
        .outerjoin(EventSession, Wish.session_id == EventSession.id)
        .outerjoin(Slot, Wish.fixed_slot_id == Slot.id)
        .where(*wanted)
        .order_by(Wish.id)
    ).all()
    return list(rows), after


def _solver_wishes(session: Session, event: Event) -> tuple[sp.Wish, ...]:
    """The accepted wishes, as the solver sees them."""
    rows, after = wish_rows(session, event, accepted_only=True)
    return tuple(solver_wish(row, after.get(row.id, ())) for row in rows)


def solver_wish(row: Row[Any], after: Iterable[str], *, required: bool | None = None) -> sp.Wish:
    """One row of `wish_rows` as the solver's wish, holding its meeting after those wishes;
    `required` overrides the row's own."""
    return sp.Wish(
        id=row.key,
        sender=row.sender_key,
        recipient=row.recipient_key,
        recipient_organisation=row.organisation_key,
        priority=row.priority,
        required=row.required if required is None else required,
        session=row.session_key,
        fixed_slot=row.slot_key,
        after=tuple(after),
        separate=row.separate,
        proposed=row.proposed,
    )


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _published_meetings(session: Session, version: ScheduleVersion | None) -> Iterable[sp.Meeting]:
    if version is None:
        return []
    meetings = session.scalars(
        select(Meeting)
        .where(Meeting.version_id == version.id)
        .options(
            selectinload(Meeting.slot),
            selectinload(Meeting.location),
            selectinload(Meeting.participant_a),
            selectinload(Meeting.participant_b),
            selectinload(Meeting.wishes),
        )
        .order_by(Meeting.id)
    ).all()
    return [
        sp.Meeting(
            wishes=tuple(w.key for w in m.wishes),
            slot=m.slot.key,
            location=m.location.key,
            participants=(m.participant_a.key, m.participant_b.key),
            kind=m.kind,  # type: ignore[arg-type]
        )
        for m in meetings
    ]
