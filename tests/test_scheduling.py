"""The database side of a solve: the snapshot the solver sees and the version it leaves."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.bundle.store import import_bundle
from matchmaking.bundle.validate import parse_bundle
from matchmaking.planning.scheduling import (
    SchedulingError,
    problem_from_event,
    save_solution,
    solve_event,
)
from matchmaking.platform.models import (
    Event,
    EventStatus,
    Meeting,
    Organisation,
    Participant,
    ScheduleVersion,
    Wish,
    WishStatus,
    utcnow,
)
from solver import problem as sp
from solver import solve


def small_event() -> dict[str, Any]:
    """Four people, three slots over a lunch pause, two tables and a video room."""
    return {
        "format": "matchmaking-bundle/1",
        "event": {
            "slug": "tiny-fair",
            "name": "Tiny fair",
            "timezone": "Europe/Brussels",
            "mode": "hybrid",
            "rules": {"max_meetings_per_participant": 2, "max_break_difference": 1,
                      "objective": ["required", "scheduled", "breaks"]},
        },
        "sessions": [
            {"id": "am", "name": "Morning", "slots": [
                {"id": "s1", "start": "2024-10-27T09:00", "end": "2024-10-27T09:20"},
                {"id": "s2", "start": "2024-10-27T09:25", "end": "2024-10-27T09:45"},
            ]},
            {"id": "pm", "name": "Afternoon", "slots": [
                {"id": "s3", "start": "2024-10-28T14:00", "end": "2024-10-28T14:20"},
            ]},
        ],
        "locations": [
            {"id": "t1", "name": "Table 1", "kind": "table"},
            {"id": "t2", "name": "Table 2", "kind": "table"},
            {"id": "v", "name": "Video", "kind": "online", "capacity": 10},
        ],
        "organisations": [
            {"id": "c", "name": "Cluster", "kind": "cluster", "country": "BE"},
            {"id": "a", "name": "Acme", "kind": "company", "country": "CA"},
            {"id": "r", "name": "Lab", "kind": "research", "country": "DE"},
        ],
        "participants": [
            {"id": "p1", "name": "Ann", "organisation": "c", "host_location": "t1",
             "unavailable": ["s3"]},
            {"id": "p2", "name": "Bob", "organisation": "a", "max_meetings": 1},
            {"id": "p3", "name": "Cem", "organisation": "r", "attendance": "online"},
            {"id": "p4", "name": "Dora", "organisation": "a"},
        ],
        "wishes": [
            {"id": "w1", "from": "p1", "to": "p2", "priority": 1},
            {"id": "w2", "from": "p2", "to": "p1"},
            {"id": "w3", "from": "p3", "to_organisation": "c", "session": "am",
             "after": ["w1", "w5"]},
            {"id": "w4", "from": "p4", "to": "p3", "required": True, "fixed_slot": "s3"},
            {"id": "w5", "from": "p4", "to": "p1", "status": "declined"},
        ],
    }  # fmt: skip


@pytest.fixture
def event(session: Session) -> Event:
    event = import_bundle(session, parse_bundle(small_event()))
    session.commit()
    return event


def quick() -> sp.SolveParameters:
    return sp.SolveParameters(time_limit_seconds=10, workers=1, deterministic=True)


def test_snapshot_holds_the_event_as_the_solver_needs_it(session: Session, event: Event) -> None:
    snapshot = problem_from_event(session, event)
    problem = snapshot.problem
    assert [(s.id, s.session, s.day) for s in problem.slots] == [
        ("s1", "am", "2024-10-27"), ("s2", "am", "2024-10-27"), ("s3", "pm", "2024-10-28")
    ]  # fmt: skip
    # Minutes keep growing across days, so later days sort after earlier ones.
    assert [(s.start_minute, s.end_minute) for s in problem.slots] == [
        (540, 560), (565, 585), (1440 + 840, 1440 + 860)
    ]  # fmt: skip
    ann, bob, cem, _ = problem.participants
    assert (ann.organisation_kind, ann.host_location, ann.unavailable) == (
        "cluster", "t1", frozenset({"s3"})
    )  # fmt: skip
    assert (bob.max_meetings, cem.online) == (1, True)
    # Only accepted wishes are candidates; an `after` on a declined wish is dropped.
    assert [w.id for w in problem.wishes] == ["w1", "w2", "w3", "w4"]
    w3, w4 = problem.wishes[2], problem.wishes[3]
    assert (w3.recipient_organisation, w3.session, w3.after) == ("c", "am", ("w1",))
    assert (w4.required, w4.fixed_slot) == (True, "s3")
    assert problem.max_meetings_per_participant == 2
    assert problem.max_break_difference == 1
    assert problem.objective == ("required", "scheduled", "breaks")
    assert problem.published == ()
    assert snapshot.wish_keys == {"w1", "w2", "w3", "w4"}
    assert snapshot.participant_keys == {"p1", "p2", "p3", "p4"}


def test_a_pending_member_takes_no_meeting_addressed_to_its_organisation(
    session: Session, event: Event
) -> None:
    from matchmaking.planning.versions import snapshot_digest

    before = snapshot_digest(problem_from_event(session, event).problem)
    # Ann (p1) is the cluster's only member; someone typed its name and waits for confirmation.
    cluster = session.scalars(select(Organisation).where(Organisation.key == "c")).one()
    session.add(
        Participant(
            event=event, organisation=cluster, key="p9", name="Zed", membership_confirmed=False
        )
    )
    session.flush()
    snapshot = problem_from_event(session, event)
    zed = next(p for p in snapshot.problem.participants if p.id == "p9")
    assert zed.represents_organisation is False
    # Digests of participants stored before the field existed are unchanged.
    assert snapshot_digest(snapshot.problem)["participants"]["p1"] == before["participants"]["p1"]
    solution = solve(snapshot.problem, quick())
    to_cluster = [m for m in solution.meetings if "w3" in m.wishes]
    # Only Ann may take Cem's wish to the cluster: the one slot she has in the morning is s1
    # or s2, and never Zed, who is free all day.
    assert all("p9" not in m.participants for m in solution.meetings)
    assert all(set(m.participants) == {"p1", "p3"} for m in to_cluster)
    unscheduled = {u.wish for u in solution.unscheduled}
    assert ("w3" in unscheduled) != bool(to_cluster)


def test_saved_solution_becomes_the_next_numbered_version_with_its_meetings(
    session: Session, event: Event
) -> None:
    snapshot = problem_from_event(session, event)
    solution = solve(snapshot.problem, quick())
    assert solution.status in ("optimal", "feasible")
    first = save_solution(session, event, snapshot, solution, quick())
    second = save_solution(session, event, snapshot, solution, {"time_limit_seconds": 10})
    session.commit()
    assert (first.number, second.number) == (1, 2)
    assert first.parameters["time_limit_seconds"] == 10
    assert first.parameters["replan"] is False
    assert first.snapshot_at == snapshot.taken_at
    assert set(first.snapshot_digest["wishes"]) == {"w1", "w2", "w3", "w4"}
    meetings = session.scalars(
        select(Meeting).where(Meeting.version_id == first.id).order_by(Meeting.id)
    ).all()
    assert len(meetings) == len(solution.meetings)
    by_uid = {m.uid: m for m in meetings}
    # The mutual wish of Ann and Bob is one meeting named after its first wish.
    mutual = by_uid["tiny-fair-w1"]
    assert sorted(w.key for w in mutual.wishes) == ["w1", "w2"]
    assert {mutual.participant_a.key, mutual.participant_b.key} == {"p1", "p2"}
    assert mutual.location.key == "t1"  # Ann hosts at her table
    assert mutual.kind == "C2B"
    required = by_uid["tiny-fair-w4"]
    assert (required.slot.key, required.location.key) == ("s3", "v")
    met = {w.key for m in meetings for w in m.wishes}
    assert met | {u["wish"] for u in first.unscheduled} == {"w1", "w2", "w3", "w4"}


def test_a_version_of_a_closed_event_moves_it_to_scheduled(session: Session, event: Event) -> None:
    event.status = EventStatus.closed
    snapshot = problem_from_event(session, event)
    save_solution(session, event, snapshot, solve(snapshot.problem, quick()))
    assert event.status == EventStatus.scheduled


def test_replan_starts_from_the_published_meetings_and_keeps_their_uids(
    session: Session, event: Event
) -> None:
    snapshot = problem_from_event(session, event)
    published = save_solution(session, event, snapshot, solve(snapshot.problem, quick()))
    published.published_at = utcnow()
    session.flush()
    # A late change: Cem's wish is withdrawn.
    session.scalars(select(Wish).where(Wish.key == "w3")).one().status = WishStatus.cancelled
    again = problem_from_event(session, event, replan_from=published)
    assert again.based_on_id == published.id
    assert again.problem.objective == ("required", "scheduled", "stability", "breaks")
    assert {m.wishes for m in again.problem.published} >= {("w1", "w2"), ("w4",)}
    replanned = save_solution(session, event, again, solve(again.problem, quick()))
    assert replanned.based_on_id == published.id
    assert replanned.parameters["replan"] is True
    old = {m.uid: (m.slot_id, m.location_id) for m in published.meetings}
    new = {m.uid: (m.slot_id, m.location_id) for m in replanned.meetings}
    assert new["tiny-fair-w1"] == old["tiny-fair-w1"]
    assert "tiny-fair-w3" not in new


def test_a_solution_naming_an_unknown_slot_is_refused_and_nothing_saved(
    session: Session, event: Event
) -> None:
    snapshot = problem_from_event(session, event)
    bogus = sp.Solution(
        status="feasible",
        meetings=[sp.Meeting(("w1",), "s99", "t1", ("p1", "p2"), "C2B")],
    )
    with pytest.raises(SchedulingError, match='unknown slot "s99"'), session.begin_nested():
        save_solution(session, event, snapshot, bogus)
    assert session.scalars(select(ScheduleVersion)).all() == []


def test_solve_event_solves_outside_a_transaction_and_stores_a_version(
    engine: Engine, event: Event
) -> None:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    version = solve_event(sessions, event.id, quick())
    assert version.number == 1
    assert version.status in ("optimal", "feasible")
    with pytest.raises(SchedulingError, match="no published version"):
        solve_event(sessions, event.id, quick(), replan=True)


def test_fields_added_to_the_solver_data_leave_digests_of_earlier_versions_alone() -> None:
    """Versions stored before `delegation`, `represents_organisation` and `proposed` existed
    keep their digests while those are at their defaults (else every version would look
    stale); a value other than the default does change the digest."""
    from matchmaking.planning.versions import _canonical, _digest

    person = sp.Participant(id="p1", organisation="o1")
    assert set(_canonical(person)) == {
        "id", "organisation", "organisation_kind", "online", "unavailable", "max_meetings",
        "host_location",
    }  # fmt: skip
    wish = sp.Wish(id="w1", sender="p1", recipient="p2")
    assert "proposed" not in _canonical(wish)
    assert _digest(sp.Participant(id="p1", organisation="o1", delegation="EU")) != _digest(person)
