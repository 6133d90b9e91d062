"""From a bundle to the solver's `Problem`, and from a `Solution` to the schedule document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from matchmaking.bundle.schemas import SCHEDULE_FORMAT, Bundle, ParticipantIn
from matchmaking.planning.delegations import apply_delegations
from solver.problem import (
    DEFAULT_OBJECTIVE,
    Location,
    Meeting,
    Participant,
    Problem,
    Slot,
    Solution,
    Wish,
)


def attendance_of(participant: ParticipantIn, bundle: Bundle) -> str:
    """A participant's attendance; without its own, online events make it online."""
    if participant.attendance is not None:
        return participant.attendance
    return "online" if bundle.event.mode == "online" else "onsite"


def _slots(bundle: Bundle) -> tuple[Slot, ...]:
    session_of = {s.id: session.id for session in bundle.sessions for s in session.slots}
    ordered = bundle.slots()
    if not ordered:
        return ()
    midnight = datetime.combine(ordered[0].start.date(), time())

    def minutes(moment: datetime) -> int:
        return int((moment - midnight).total_seconds() // 60)

    return tuple(
        Slot(
            id=s.id,
            session=session_of[s.id],
            day=s.start.date().isoformat(),
            start_minute=minutes(s.start),
            end_minute=minutes(s.end),
        )
        for s in ordered
    )


def _participants(bundle: Bundle) -> tuple[Participant, ...]:
    kind_of = {o.id: o.kind for o in bundle.organisations}
    return tuple(
        Participant(
            id=p.id,
            organisation=p.organisation,
            organisation_kind=kind_of[p.organisation],
            online=attendance_of(p, bundle) == "online",
            unavailable=frozenset(p.unavailable),
            max_meetings=p.max_meetings,
            host_location=p.host_location,
        )
        for p in bundle.participants
    )


def _wishes(bundle: Bundle) -> tuple[Wish, ...]:
    # Only accepted wishes become candidate meetings; `after` may only name those, since a
    # wish that is not accepted is never held and so puts no order on the others.
    accepted = [w for w in bundle.wishes if w.status == "accepted"]
    accepted_ids = {w.id for w in accepted}
    return tuple(
        Wish(
            id=w.id,
            sender=w.from_,
            recipient=w.to,
            recipient_organisation=w.to_organisation,
            priority=w.priority,
            required=w.required,
            session=w.session,
            fixed_slot=w.fixed_slot,
            after=tuple(a for a in w.after if a in accepted_ids),
            separate=w.separate,
        )
        for w in accepted
    )


def bundle_to_problem(bundle: Bundle) -> Problem:
    """The solver's input for a (validated) bundle."""
    rules = bundle.event.rules
    problem = Problem(
        event=bundle.event.slug,
        slots=_slots(bundle),
        locations=tuple(
            Location(id=loc.id, kind=loc.kind, capacity=loc.capacity) for loc in bundle.locations
        ),
        participants=_participants(bundle),
        wishes=_wishes(bundle),
        max_meetings_per_participant=rules.max_meetings_per_participant,
        max_meetings_total=rules.max_meetings_total,
        max_break_difference=rules.max_break_difference,
        objective=tuple(rules.objective) if rules.objective else DEFAULT_OBJECTIVE,
    )
    organisations = {o.id: o.delegation or "" for o in bundle.organisations}
    delegations = {p.id: organisations[p.organisation] for p in bundle.participants}
    return apply_delegations(problem, delegations, bool(rules.cross_delegation_only))


def _number(key: str, value: float) -> int | float:
    # Counts are whole numbers; write them as JSON integers (min_share stays a fraction).
    if key != "min_share" and float(value).is_integer():
        return int(value)
    return value + 0.0  # no "-0.0" in the document


def _meeting(
    meeting: Meeting, wish_rank: dict[str, int], sender_of: dict[str, str]
) -> dict[str, Any]:
    wishes = sorted(meeting.wishes, key=lambda w: wish_rank.get(w, len(wish_rank)))
    first, second = meeting.participants
    if sender_of.get(wishes[0]) == second:
        # The sender of the first listed wish comes first, as in the solver's contract.
        first, second = second, first
    return {
        "wishes": wishes,
        "slot": meeting.slot,
        "location": meeting.location,
        "participants": [first, second],
        "kind": meeting.kind,
    }


def solution_to_schedule(
    bundle_or_event_slug: Bundle | str, problem: Problem, solution: Solution
) -> dict[str, Any]:
    """The schedule document (format `matchmaking-schedule/1`) of a solution.

    Meetings are ordered by slot (chronological), then location (as listed), then wishes;
    unscheduled wishes in the order of the problem's wishes. So the same solution always
    gives the same bytes.
    """
    slug = (
        bundle_or_event_slug.event.slug
        if isinstance(bundle_or_event_slug, Bundle)
        else bundle_or_event_slug
    )
    slot_rank = {s.id: i for i, s in enumerate(problem.slots)}
    location_rank = {loc.id: i for i, loc in enumerate(problem.locations)}
    wish_rank = {w.id: i for i, w in enumerate(problem.wishes)}
    sender_of = {w.id: w.sender for w in problem.wishes}
    meetings = sorted(
        solution.meetings,
        key=lambda m: (
            slot_rank.get(m.slot, len(slot_rank)),
            location_rank.get(m.location, len(location_rank)),
            sorted(wish_rank.get(w, len(wish_rank)) for w in m.wishes),
        ),
    )
    unscheduled = sorted(solution.unscheduled, key=lambda u: wish_rank.get(u.wish, len(wish_rank)))
    document: dict[str, Any] = {
        "format": SCHEDULE_FORMAT,
        "event": slug,
        "status": solution.status,
        "objective": {k: _number(k, v) for k, v in solution.objective.items()},
        "bound": {k: _number(k, v) for k, v in solution.bound.items()},
        "solve_seconds": round(solution.solve_seconds, 3),
        "meetings": [_meeting(m, wish_rank, sender_of) for m in meetings],
        "unscheduled": [
            {"wish": u.wish, "reason": u.reason, "detail": u.detail} for u in unscheduled
        ],
    }
    if solution.conflicts:
        document["conflicts"] = [
            {"wishes": list(c.wishes), "rule": c.rule, "detail": c.detail}
            for c in solution.conflicts
        ]
    return document


@dataclass(frozen=True, slots=True)
class PublishedSchedule:
    """A schedule document read as the published schedule of a re-plan."""

    #: Its meetings that the bundle still allows to be named: their two participants, their
    #: slot and location exist and at least one of their wishes is still accepted.
    meetings: tuple[Meeting, ...]
    #: Its meetings that are left out, each with why (keys as in the document).
    dropped: tuple[str, ...]


class ScheduleFileError(ValueError):
    """A schedule document that cannot be a re-plan's starting point; names the field."""


def published_from_schedule(problem: Problem, document: object) -> PublishedSchedule:
    """The meetings of a schedule document (format `matchmaking-schedule/1`), as the
    published schedule of a re-plan of `problem`.

    Meetings whose participants, wishes (accepted ones), slot or location no longer exist are
    dropped; wishes that no longer exist are dropped from the meetings that keep another.
    Whether the rest can still be held where they are (availability, capacity, caps) is the
    solver's question: it keeps them where it can (solver/replan.py).
    """
    from pydantic import ValidationError

    from matchmaking.bundle.schemas import ScheduleDoc

    try:
        schedule = ScheduleDoc.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        raise ScheduleFileError(
            f"not a schedule document: {where}: {first['msg']}"
            + (f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else "")
        ) from None
    if schedule.event != problem.event:
        raise ScheduleFileError(
            f'event: the schedule is of event "{schedule.event}", the bundle of "{problem.event}"'
        )
    slots = {s.id for s in problem.slots}
    locations = {loc.id for loc in problem.locations}
    participants = {p.id for p in problem.participants}
    wishes = {w.id for w in problem.wishes}
    kept: list[Meeting] = []
    dropped: list[str] = []
    for n, meeting in enumerate(schedule.meetings):
        label = f"meetings[{n}] ({meeting.slot}, {' & '.join(meeting.participants)})"
        gone = [p for p in meeting.participants if p not in participants]
        if gone:
            dropped.append(f"{label}: participant {gone[0]} no longer exists")
            continue
        if meeting.slot not in slots:
            dropped.append(f"{label}: slot {meeting.slot} no longer exists")
            continue
        if meeting.location not in locations:
            dropped.append(f"{label}: location {meeting.location} no longer exists")
            continue
        still = tuple(w for w in meeting.wishes if w in wishes)
        if not still:
            dropped.append(f"{label}: none of its wishes is still accepted")
            continue
        a, b = meeting.participants
        kept.append(Meeting(still, meeting.slot, meeting.location, (a, b), meeting.kind))
    return PublishedSchedule(tuple(kept), tuple(dropped))
