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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from matchmaking.planning.publishing import current_published_version
from matchmaking.planning.rest_of_day import (
    away_reasons,
    gone_since,
    rest_of_day_problem,
    without_who_left,
)
from matchmaking.planning.snapshot import Snapshot, goal_order, problem_from_event, wish_rows
from matchmaking.planning.versions import snapshot_digest
from matchmaking.platform.models import (
    Event,
    EventStatus,
    Location,
    Meeting,
    MeetingWish,
    Participant,
    ScheduleVersion,
    Slot,
    Wish,
)
from solver import problem as sp

__all__ = [
    "SchedulingError",
    "Snapshot",
    "goal_order",
    "problem_from_event",
    "replan_basis",
    "save_solution",
    "solve_event",
    "take_snapshot",
    "wish_rows",
]


class SchedulingError(ValueError):
    """A solution that does not fit the event it is saved to (unknown keys)."""


# --- what a solve is asked: basis and goal order --------------------------------------------


def replan_basis(session: Session, event: Event, replan: bool) -> ScheduleVersion | None:
    """The version a re-plan starts from: the event's current published version (None when
    not re-planning). Raises `SchedulingError` when there is none to re-plan from."""
    if not replan:
        return None
    published = current_published_version(session, event.id)
    if published is None:
        raise SchedulingError(f'event "{event.slug}" has no published version to re-plan from')
    return published


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
    number = next_version_number(session, event)
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


def next_version_number(session: Session, event: Event) -> int:
    """The number of the event's next schedule version, with the event row locked.

    Locking the event row makes concurrent saves of one event queue on PostgreSQL (SQLite
    already serialises writers), so two versions never get the same number."""
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
    frozen_before: datetime | None = None,
    record: Mapping[str, Any] | None = None,
    finish: Callable[[Snapshot, sp.Solution], T] | None = None,
) -> ScheduleVersion | T:
    """Snapshot, solve and save, with no transaction open while the solver runs.

    With `replan`, the solve starts from the current published version (`SchedulingError`
    if there is none); the goal order is `goal_order`'s. The version stores `record` (default:
    the solve parameters) as its parameters. `finish` replaces the default save (one
    transaction calling `save_solution`): a solve job saves the version together with the
    job's own end, or puts the job back in the queue.

    With `frozen_before` (a re-plan only) the solve re-plans the rest of the day from that
    moment: published meetings before it stay, people away get no meeting after it
    (`rest_of_day.rest_of_day_problem`); the version records the event as read. Without
    it, people marked away still get no meeting after they left (`without_who_left`).
    """
    from solver import solve  # the solver is heavy to import; only solving needs it

    with sessions() as session, session.begin():
        event = session.get_one(Event, event_id)
        snapshot = take_snapshot(
            session, event, replan=replan, objective=objective, move_published=move_published
        )
        problem, gone = snapshot.problem, {}
        if frozen_before is not None:
            if snapshot.based_on_id is None:
                raise SchedulingError("only a re-plan keeps the meetings before a moment")
            problem = rest_of_day_problem(session, event, problem, frozen_before)
            gone = gone_since(session, event, frozen_before)
        else:
            problem, gone = without_who_left(session, event, problem)
    solution = away_reasons(problem, solve(problem, parameters), gone)
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
