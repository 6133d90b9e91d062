"""Between the database and the solver: a snapshot of an event in, a schedule version out.

`problem_from_event` reads what the solver needs at one instant (the snapshot); the solve
itself runs outside any transaction (it can take minutes, and wishes may keep arriving);
`save_solution` then stores the result as the event's next `ScheduleVersion`.

`solve_event` is the whole round, and the only one: the CLI's `solve`, the demo and the solve
jobs of the API and the dashboard all go through it, so that `replan_basis` (which published
version a re-plan starts from) and `goal_order` (in which order the goals are optimised)
decide the same for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, func, insert, select
from sqlalchemy.orm import Session, aliased, selectinload

from matchmaking.delegations import apply_delegations, event_delegations
from matchmaking.models import (
    Attendance,
    Event,
    EventStatus,
    Location,
    Meeting,
    MeetingWish,
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
from matchmaking.models import Session as EventSession
from matchmaking.publishing import current_published_version
from matchmaking.versions import snapshot_digest
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


class SchedulingError(ValueError):
    """A solution that does not fit the event it is saved to (unknown keys)."""


# --- event → problem -----------------------------------------------------------------------


# --- what a solve is asked: basis and goal order --------------------------------------------

#: Goals a re-plan ranks above `stability`: a published meeting moves only when that meets
#: more wishes or wishes of a higher priority (required ones are rules, always met).
PROMISE_GOALS = ("required", "scheduled")


def replan_basis(session: Session, event: Event, replan: bool) -> ScheduleVersion | None:
    """The version a re-plan starts from: the event's current published version (None when
    not re-planning). Raises `SchedulingError` when there is none to re-plan from."""
    if not replan:
        return None
    published = current_published_version(session, event.id)
    if published is None:
        raise SchedulingError(f'event "{event.slug}" has no published version to re-plan from')
    return published


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


def take_snapshot(
    session: Session,
    event: Event,
    *,
    replan: bool = False,
    objective: Sequence[str] | None = None,
    move_published: bool = False,
) -> Snapshot:
    """The snapshot a solve works from, with its basis and goal order decided (see
    `replan_basis` and `goal_order`)."""
    basis = replan_basis(session, event, replan)
    order = goal_order(
        event.rules, replan=replan, objective=objective, move_published=move_published
    )
    return problem_from_event(session, event, replan_from=basis, objective=order)


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
        )  # fmt: skip
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .outerjoin(host, Participant.host_location_id == host.id)
        .where(Participant.event_id == event.id)
        .order_by(Participant.id)
    )
    return tuple(
        sp.Participant(
            id=key,
            organisation=organisation,
            organisation_kind=OrganisationKind(kind).value,  # type: ignore[arg-type]
            online=attendance == Attendance.online,
            unavailable=frozenset(unavailable.get(row_id, ())),
            max_meetings=max_meetings,
            host_location=host_key,
        )
        for row_id, key, organisation, kind, attendance, max_meetings, host_key in rows
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
    return tuple(
        sp.Wish(
            id=row.key,
            sender=row.sender_key,
            recipient=row.recipient_key,
            recipient_organisation=row.organisation_key,
            priority=row.priority,
            required=row.required,
            session=row.session_key,
            fixed_slot=row.slot_key,
            after=tuple(after.get(row.id, ())),
            separate=row.separate,
        )
        for row in rows
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


# --- solution → schedule version ------------------------------------------------------------


def save_solution(
    session: Session,
    event: Event,
    snapshot: Snapshot,
    solution: sp.Solution,
    parameters: sp.SolveParameters | Mapping[str, Any] | None = None,
) -> ScheduleVersion:
    """Store `solution` as the event's next numbered version (not published).

    Meeting `uid`s are the meetings' identity across versions (calendar UIDs): a meeting that
    holds a wish of a meeting of the published version keeps that meeting's uid; a new one
    gets `"<event slug>-<first wish key>"`. Flushes; the caller commits.
    """
    if snapshot.event_id != event.id:
        raise SchedulingError(f'the snapshot is of another event than "{event.slug}"')
    number = _next_number(session, event)
    version = ScheduleVersion(
        event_id=event.id,
        number=number,
        status=solution.status,
        objective=dict(solution.objective),
        bound=dict(solution.bound),
        parameters=_parameters_record(parameters, snapshot),
        solve_seconds=float(solution.solve_seconds),
        unscheduled=[asdict(u) for u in solution.unscheduled],
        conflicts=[{**asdict(c), "wishes": list(c.wishes)} for c in solution.conflicts],
        based_on_id=snapshot.based_on_id,
        snapshot_at=snapshot.taken_at,
        # Fingerprints of what the solve saw, so staleness is judged by content.
        snapshot_digest=snapshot_digest(snapshot.problem),
    )
    session.add(version)
    session.flush()
    _add_meetings(session, event, version, solution.meetings)
    if event.status == EventStatus.closed:
        event.status = EventStatus.scheduled
    session.flush()
    return version


def _next_number(session: Session, event: Event) -> int:
    # Locking the event row makes concurrent saves of one event queue on PostgreSQL (SQLite
    # already serialises writers), so two versions never get the same number.
    session.execute(select(Event.id).where(Event.id == event.id).with_for_update())
    latest = session.scalar(
        select(func.max(ScheduleVersion.number)).where(ScheduleVersion.event_id == event.id)
    )
    return (latest or 0) + 1


def _parameters_record(
    parameters: sp.SolveParameters | Mapping[str, Any] | None, snapshot: Snapshot
) -> dict[str, Any]:
    if parameters is None:
        record: dict[str, Any] = {}
    elif isinstance(parameters, sp.SolveParameters):
        record = {
            "time_limit_seconds": parameters.time_limit_seconds,
            "workers": parameters.workers,
            "deterministic": parameters.deterministic,
            "random_seed": parameters.random_seed,
            "relative_gap": parameters.relative_gap,
        }
    else:
        record = {k: v for k, v in parameters.items() if _is_json_scalar(v)}
    record["replan"] = snapshot.based_on_id is not None
    # The order the goals were optimised in, as decided by `goal_order`.
    record["goal_order"] = list(snapshot.problem.objective)
    return record


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _add_meetings(
    session: Session, event: Event, version: ScheduleVersion, meetings: list[sp.Meeting]
) -> None:
    # Bulk INSERT ... RETURNING: a partnering fair's version holds thousands of meetings.
    keys = _KeyIndex(session, event)
    inherited = _published_uids(session, event)
    used: set[str] = set()
    rows: list[dict[str, Any]] = []
    met: list[list[int]] = []
    for meeting in meetings:
        # (id, key) pairs in import order, so "first wish" means the same in every version.
        wishes = sorted((keys.wish(key), key) for key in meeting.wishes)
        if not wishes:
            raise SchedulingError(f"a meeting in slot {meeting.slot} meets no wish")
        rows.append(
            {
                "version_id": version.id,
                "slot_id": keys.slot(meeting.slot),
                "location_id": keys.location(meeting.location),
                "participant_a_id": keys.participant(meeting.participants[0]),
                "participant_b_id": keys.participant(meeting.participants[1]),
                "kind": meeting.kind,
                "uid": _meeting_uid(event, [key for _, key in wishes], inherited, used),
            }
        )
        met.append([wish_id for wish_id, _ in wishes])
    if not rows:
        return
    statement = insert(Meeting).returning(Meeting.id, sort_by_parameter_order=True)
    meeting_ids = session.scalars(statement, rows).all()
    session.execute(
        insert(MeetingWish),
        [
            {"meeting_id": meeting_id, "wish_id": wish_id}
            for meeting_id, wish_ids in zip(meeting_ids, met, strict=True)
            for wish_id in wish_ids
        ],
    )


def _meeting_uid(
    event: Event, wish_keys: list[str], inherited: dict[str, str], used: set[str]
) -> str:
    candidates = [inherited[key] for key in wish_keys if key in inherited]
    candidates += [f"{event.slug}-{key}" for key in wish_keys]
    for uid in candidates:
        if uid not in used:
            used.add(uid)
            return uid
    # Only reachable when uids of split meetings collide; keep them unique within a version.
    base, n = candidates[0], 2
    while f"{base}-{n}" in used:
        n += 1
    used.add(f"{base}-{n}")
    return f"{base}-{n}"


def _published_uids(session: Session, event: Event) -> dict[str, str]:
    """Wish key → uid of the meeting holding it in the event's current published version."""
    version = current_published_version(session, event.id)
    if version is None:
        return {}
    rows = session.execute(
        select(Wish.key, Meeting.uid).join(Meeting.wishes).where(Meeting.version_id == version.id)
    ).all()
    return {key: uid for key, uid in rows}


class _KeyIndex:
    """Keys of one event's rows → their ids, loaded once per save; unknown keys are errors."""

    def __init__(self, session: Session, event: Event) -> None:
        def ids(model: Any) -> dict[str, int]:
            rows = session.execute(select(model.key, model.id).where(model.event_id == event.id))
            return {key: row_id for key, row_id in rows}

        self._ids = {
            "slot": ids(Slot),
            "location": ids(Location),
            "participant": ids(Participant),
            "wish": ids(Wish),
        }

    def _get(self, what: str, key: str) -> int:
        try:
            return self._ids[what][key]
        except KeyError:
            raise SchedulingError(f'the solution names an unknown {what} "{key}"') from None

    def slot(self, key: str) -> int:
        return self._get("slot", key)

    def location(self, key: str) -> int:
        return self._get("location", key)

    def participant(self, key: str) -> int:
        return self._get("participant", key)

    def wish(self, key: str) -> int:
        return self._get("wish", key)


# --- the whole round: CLI, demo and solve jobs ------------------------------------------------

T = TypeVar("T")


def solve_event(
    sessions: Callable[[], Session],
    event_id: int,
    parameters: sp.SolveParameters,
    *,
    replan: bool = False,
    objective: Sequence[str] | None = None,
    move_published: bool = False,
    record: Mapping[str, Any] | None = None,
    finish: Callable[[Snapshot, sp.Solution], T] | None = None,
) -> ScheduleVersion | T:
    """Snapshot, solve and save, with no transaction open while the solver runs.

    With `replan`, the solve starts from the current published version (`SchedulingError`
    if there is none); the goal order is `goal_order`'s. The version stores `record` (default:
    the solve parameters) as its parameters. `finish` replaces the default save (one
    transaction calling `save_solution`): a solve job saves the version together with the
    job's own end, or puts the job back in the queue.
    """
    from solver import solve  # the solver is heavy to import; only solving needs it

    with sessions() as session, session.begin():
        event = session.get_one(Event, event_id)
        snapshot = take_snapshot(
            session, event, replan=replan, objective=objective, move_published=move_published
        )
    solution = solve(snapshot.problem, parameters)
    if finish is not None:
        return finish(snapshot, solution)
    with sessions() as session, session.begin():
        event = session.get_one(Event, event_id)
        version = save_solution(
            session, event, snapshot, solution, record if record is not None else parameters
        )
    # The caller's sessionmaker should not expire on commit, so the returned (detached)
    # version keeps its loaded columns.
    return version
