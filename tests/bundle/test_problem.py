"""Bundle → solver Problem, and Solution → schedule document."""

from __future__ import annotations

from typing import Any

from matchmaking.bundle.problem import bundle_to_problem, solution_to_schedule
from matchmaking.bundle.validate import parse_bundle
from solver.problem import DEFAULT_OBJECTIVE, Meeting, Solution, Unscheduled


def _two_day_example(example: dict[str, Any]) -> dict[str, Any]:
    example["sessions"].append(
        {"id": "d2-am", "name": "Day 2 morning", "slots": [
            {"id": "s3", "start": "2024-09-11T09:00", "end": "2024-09-11T09:20"},
        ]}
    )  # fmt: skip
    example["wishes"].append({"id": "w3", "from": "p2", "to": "p3", "status": "declined"})
    example["wishes"].append({"id": "w4", "from": "p2", "to": "p1", "after": ["w3", "w1"]})
    return example


def test_slots_carry_their_session_day_and_minutes(example: dict[str, Any]) -> None:
    problem = bundle_to_problem(parse_bundle(_two_day_example(example)))
    assert [(s.id, s.session, s.day, s.start_minute, s.end_minute) for s in problem.slots] == [
        ("s1", "d1-am", "2024-09-10", 540, 560),
        ("s2", "d1-am", "2024-09-10", 565, 585),
        ("s3", "d2-am", "2024-09-11", 1980, 2000),
    ]


def test_only_accepted_wishes_become_candidate_meetings(example: dict[str, Any]) -> None:
    problem = bundle_to_problem(parse_bundle(_two_day_example(example)))
    assert [w.id for w in problem.wishes] == ["w1", "w2", "w4"]
    # A declined wish is never held, so it cannot hold another one back.
    assert problem.wishes[2].after == ("w1",)


def test_wish_fields_are_carried_over(example: dict[str, Any]) -> None:
    wish = bundle_to_problem(parse_bundle(example)).wishes[1]
    assert (wish.sender, wish.recipient, wish.recipient_organisation) == ("p3", None, "o1")
    assert (wish.priority, wish.required, wish.session, wish.fixed_slot, wish.after) == (
        2, True, "d1-am", "s1", ("w1",)
    )  # fmt: skip


def test_participants_carry_attendance_organisation_kind_and_caps(
    example: dict[str, Any],
) -> None:
    p1, p2, _ = bundle_to_problem(parse_bundle(example)).participants
    assert (p1.organisation_kind, p1.online, p1.unavailable) == ("cluster", False, {"s2"})
    assert (p1.max_meetings, p1.host_location) == (8, "t1")
    assert (p2.organisation_kind, p2.online) == ("company", True)


def test_rules_become_problem_caps_and_objective(example: dict[str, Any]) -> None:
    problem = bundle_to_problem(parse_bundle(example))
    assert problem.event == "eu-canada-2024"
    assert (problem.max_meetings_per_participant, problem.max_break_difference) == (12, 2)
    example["event"]["rules"] = {"objective": ["required", "breaks"]}
    assert bundle_to_problem(parse_bundle(example)).objective == ("required", "breaks")
    example["event"]["rules"] = {}
    assert bundle_to_problem(parse_bundle(example)).objective == DEFAULT_OBJECTIVE


def test_schedule_lists_meetings_by_slot_then_location_and_wishes_in_bundle_order(
    example: dict[str, Any],
) -> None:
    bundle = parse_bundle(_two_day_example(example))
    problem = bundle_to_problem(bundle)
    solution = Solution(
        status="feasible",
        objective={"required": 0.0, "scheduled": 2.0, "min_share": 0.5, "breaks": 0.0},
        bound={"breaks": 0.0},
        solve_seconds=1.23456,
        meetings=[
            Meeting(("w2",), "s2", "t1", ("p3", "p1"), "C2B"),
            Meeting(("w4", "w1"), "s1", "video", ("p2", "p1"), "C2B"),
        ],
        unscheduled=[],
    )
    schedule = solution_to_schedule(bundle, problem, solution)
    assert schedule == {
        "format": "matchmaking-schedule/1",
        "event": "eu-canada-2024",
        "status": "feasible",
        "objective": {"required": 0, "scheduled": 2, "min_share": 0.5, "breaks": 0},
        "bound": {"breaks": 0},
        "solve_seconds": 1.235,
        "meetings": [
            {"wishes": ["w1", "w4"], "slot": "s1", "location": "video",
             "participants": ["p1", "p2"], "kind": "C2B"},
            {"wishes": ["w2"], "slot": "s2", "location": "t1",
             "participants": ["p3", "p1"], "kind": "C2B"},
        ],
        "unscheduled": [],
    }  # fmt: skip


def test_schedule_lists_unscheduled_wishes_in_wish_order(example: dict[str, Any]) -> None:
    problem = bundle_to_problem(parse_bundle(example))
    solution = Solution(
        status="infeasible",
        unscheduled=[
            Unscheduled("w2", "required_conflict", "p3 cannot meet o1 in s1"),
            Unscheduled("w1", "no_common_slot", "p1 and p2 share no available slot"),
        ],
    )
    schedule = solution_to_schedule("eu-canada-2024", problem, solution)
    assert [u["wish"] for u in schedule["unscheduled"]] == ["w1", "w2"]
    assert schedule["meetings"] == []
    assert schedule["status"] == "infeasible"
