"""The rule cross_delegation_only when scheduling: same-delegation wishes are never scheduled
(the solver) and a schedule holding such a meeting is refused (the checker); the snapshot of an
event in the database carries the rule (both databases)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.orm import Session

from matchmaking.bundle.problem import bundle_to_problem
from matchmaking.bundle.store import import_bundle
from matchmaking.bundle.validate import parse_bundle
from matchmaking.planning.snapshot import problem_from_event
from solver import problem as sp
from solver import solve
from solver.check import check


def _bundle(rule: bool) -> dict[str, Any]:
    return {
        "format": "matchmaking-bundle/1",
        "event": {"slug": "eu-taiwan", "name": "EU-Taiwan", "timezone": "Europe/Brussels",
                  "rules": {"cross_delegation_only": rule}},
        "sessions": [{"id": "am", "name": "Morning", "slots": [
            {"id": "s1", "start": "2025-03-04T09:00", "end": "2025-03-04T09:20"},
            {"id": "s2", "start": "2025-03-04T09:25", "end": "2025-03-04T09:45"},
        ]}],
        "locations": [{"id": "t1", "name": "Table 1", "kind": "table", "capacity": 4}],
        "organisations": [
            {"id": "eu1", "name": "Nordic Energy", "kind": "cluster", "delegation": "EU"},
            {"id": "eu2", "name": "Iberia Batteries", "kind": "company", "delegation": " eu"},
            {"id": "tw", "name": "Taipei Cells", "kind": "company", "delegation": "Taiwan"},
            {"id": "none", "name": "Free Agent", "kind": "company"},
        ],
        "participants": [
            {"id": "p1", "name": "Ann", "organisation": "eu1"},
            {"id": "p2", "name": "Cid", "organisation": "eu2"},
            {"id": "p3", "name": "Wen", "organisation": "tw"},
            {"id": "p4", "name": "Nia", "organisation": "none"},
        ],
        "wishes": [
            {"id": "w1", "from": "p1", "to": "p2"},
            {"id": "w2", "from": "p1", "to_organisation": "eu2"},
            {"id": "w3", "from": "p1", "to": "p3"},
            {"id": "w4", "from": "p2", "to": "p4"},
        ],
    }  # fmt: skip


def _quick() -> sp.SolveParameters:
    return sp.SolveParameters(time_limit_seconds=10, workers=1, deterministic=True)


def test_same_delegation_wishes_are_never_scheduled_and_say_why() -> None:
    problem = bundle_to_problem(parse_bundle(_bundle(rule=True)))

    solution = solve(problem, _quick())

    assert problem.cross_delegation_only
    # " eu" is the delegation "EU", in the spelling the event first uses.
    assert [p.delegation for p in problem.participants] == ["EU", "EU", "Taiwan", ""]
    met = {w for m in solution.meetings for w in m.wishes}
    assert met == {"w3", "w4"}
    reasons = {u.wish: (u.reason, u.detail) for u in solution.unscheduled}
    assert reasons["w1"][0] == reasons["w2"][0] == "same_delegation"
    assert "cross_delegation_only" in reasons["w1"][1]
    assert "(EU)" in reasons["w1"][1]
    assert check(problem, solution).ok


def test_without_the_rule_the_same_delegation_meets() -> None:
    problem = bundle_to_problem(parse_bundle(_bundle(rule=False)))

    solution = solve(problem, _quick())

    assert not problem.cross_delegation_only
    assert all(p.delegation == "" for p in problem.participants)
    assert {w for m in solution.meetings for w in m.wishes} >= {"w1", "w3", "w4"}


def test_the_checker_refuses_a_same_delegation_meeting() -> None:
    allowed = bundle_to_problem(parse_bundle(_bundle(rule=False)))
    solution = solve(allowed, _quick())
    assert any("w1" in m.wishes for m in solution.meetings)
    ruled = bundle_to_problem(parse_bundle(_bundle(rule=True)))
    # The same schedule judged under the rule (its accounting aside).
    report = check(ruled, dataclasses.replace(solution, unscheduled=[]))

    same = [v for v in report.violations if "same delegation" in v]
    assert len(same) == 1
    assert "p1 and p2" in same[0]
    assert "cross_delegation_only" in same[0]


def test_the_snapshot_of_an_event_in_the_database_carries_the_rule(session: Session) -> None:
    event = import_bundle(session, parse_bundle(_bundle(rule=True)))
    session.commit()

    problem = problem_from_event(session, event).problem

    assert problem.cross_delegation_only
    assert {p.id: p.delegation for p in problem.participants} == {
        "p1": "EU", "p2": "EU", "p3": "Taiwan", "p4": ""
    }  # fmt: skip
    solution = solve(problem, _quick())
    assert "w1" not in {w for m in solution.meetings for w in m.wishes}


def test_a_replan_drops_a_published_same_delegation_meeting_once_the_rule_is_on() -> None:
    allowed = bundle_to_problem(parse_bundle(_bundle(rule=False)))
    published = tuple(solve(allowed, _quick()).meetings)
    assert any("w1" in m.wishes for m in published)
    ruled = dataclasses.replace(
        bundle_to_problem(parse_bundle(_bundle(rule=True))), published=published
    )

    solution = solve(ruled, _quick())

    assert "w1" not in {w for m in solution.meetings for w in m.wishes}
    assert check(ruled, solution).ok
