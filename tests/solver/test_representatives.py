"""Who may take a meeting addressed to an organisation: its members, except those whose
membership still waits for confirmation (`represents_organisation` false)."""

from __future__ import annotations

from solver import solve
from solver.check import check
from solver.greedy import greedy
from solver.problem import (
    Location,
    Participant,
    Problem,
    Slot,
    SolveParameters,
    Wish,
)


def _problem(confirmed: bool) -> Problem:
    return Problem(
        event="e",
        slots=(Slot(id="s1", session="am", day="d1", start_minute=0, end_minute=20),),
        locations=(Location(id="t1", kind="table"),),
        participants=(
            Participant(id="p1", organisation="o1"),
            Participant(id="p2", organisation="o2", represents_organisation=confirmed),
        ),
        wishes=(Wish(id="w1", sender="p1", recipient_organisation="o2"),),
    )


def test_a_member_waiting_for_confirmation_takes_no_meeting_for_its_organisation() -> None:
    params = SolveParameters(time_limit_seconds=5, workers=1, deterministic=True)
    assert [m.participants for m in solve(_problem(True), params).meetings] == [("p1", "p2")]
    pending = solve(_problem(False), params)
    assert list(pending.meetings) == []
    assert [u.wish for u in pending.unscheduled] == ["w1"]
    assert list(greedy(_problem(False)).meetings) == []


def test_the_checker_refuses_such_a_meeting() -> None:
    params = SolveParameters(time_limit_seconds=5, workers=1, deterministic=True)
    held = solve(_problem(True), params)
    assert len(held.meetings) == 1
    assert check(_problem(True), held).ok
    refused = check(_problem(False), held)
    assert any("w1" in violation for violation in refused.violations), refused.violations
