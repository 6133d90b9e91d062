"""The checker must catch every broken rule: each test builds a bad schedule and names the
violation it expects, so a checker that always says "ok" fails here."""

from __future__ import annotations

import dataclasses

import pytest

from solver.check import check, evaluate
from solver.problem import (
    Location,
    Meeting,
    Participant,
    Problem,
    Slot,
    Solution,
    Unscheduled,
    Wish,
)

DAY1, DAY2 = "2024-09-10", "2024-09-11"


def make_problem(**changes: object) -> Problem:
    problem = Problem(
        event="check-event",
        slots=(
            Slot("s1", "am", DAY1),
            Slot("s2", "am", DAY1),
            Slot("s3", "am", DAY1),
            Slot("s4", "pm", DAY1),
            Slot("s5", "d2", DAY2),
        ),
        locations=(Location("t1"), Location("t2"), Location("video", "online", 5)),
        participants=(
            Participant("p1", "o1", "cluster"),
            Participant("p2", "o2", "company", unavailable=frozenset({"s4"})),
            Participant("p3", "o3", "company", online=True),
            Participant("p4", "o4", "cluster", host_location="t2"),
            Participant("p5", "o4", "cluster"),
        ),
        wishes=(
            Wish("w1", "p1", "p2", priority=1, required=True),
            Wish("w2", "p2", "p1", priority=2),
            Wish("w3", "p1", "p3", priority=3),
            Wish("w4", "p2", recipient_organisation="o4"),
        ),
    )
    return dataclasses.replace(problem, **changes)  # type: ignore[arg-type]


GOOD = [
    Meeting(("w1", "w2"), "s1", "t1", ("p1", "p2"), "C2B"),
    Meeting(("w3",), "s2", "video", ("p1", "p3"), "C2B"),
    Meeting(("w4",), "s2", "t2", ("p2", "p4"), "C2B"),
]


def solution_of(problem: Problem, meetings: list[Meeting], status: str = "feasible") -> Solution:
    """A solution that reports its own objective and lists every other wish as unscheduled."""
    met = {w for m in meetings for w in m.wishes}
    return Solution(
        status=status,  # type: ignore[arg-type]
        objective=evaluate(problem, meetings),
        meetings=meetings,
        unscheduled=[
            Unscheduled(w.id, "no_common_slot", "test") for w in problem.wishes if w.id not in met
        ],
    )


def violations(meetings: list[Meeting], problem: Problem | None = None) -> list[str]:
    problem = problem or make_problem()
    return check(problem, solution_of(problem, meetings)).violations


def with_meeting(i: int, **changes: object) -> list[Meeting]:
    meetings = list(GOOD)
    meetings[i] = dataclasses.replace(meetings[i], **changes)  # type: ignore[arg-type]
    return meetings


def assert_one(found: list[str], expected: str) -> None:
    assert any(expected in v for v in found), f"expected {expected!r} in {found}"


def test_valid_schedule_passes_and_objective_is_recomputed() -> None:
    problem = make_problem()
    report = check(problem, solution_of(problem, GOOD))
    assert report.ok, report.violations
    assert report.objective == {
        "required": 0.0,
        "scheduled": 4.0,
        "scheduled_weight": 3 + 2 + 1 + 2,
        "min_share": 1.0,
        "breaks": 0.0,
        "moved": 0.0,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"slot": "s9"}, "unknown slot 's9'"),
        ({"location": "t9"}, "unknown location 't9'"),
        ({"participants": ("p1", "p9")}, "unknown participant 'p9'"),
        ({"wishes": ("w1", "w9")}, "unknown wish 'w9'"),
    ],
)
def test_meeting_naming_unknown_ids_is_refused(change: dict[str, object], expected: str) -> None:
    assert_one(violations(with_meeting(0, **change)), expected)


def test_meeting_between_other_participants_than_the_wish_asks_is_refused() -> None:
    bad = with_meeting(1, participants=("p1", "p2"), location="t1", slot="s3", kind="C2B")
    assert_one(violations(bad), "wish w3 is from p1 to p3, but the meeting is between p1 and p2")


def test_organisation_wish_met_by_someone_outside_the_organisation_is_refused() -> None:
    bad = with_meeting(2, participants=("p2", "p1"), location="t1", slot="s3")
    assert_one(violations(bad), "wish w4 is from p2 to a member of organisation o4")


def test_organisation_wish_may_be_met_by_any_member() -> None:
    assert violations(with_meeting(2, participants=("p2", "p5"), location="t1")) == []


def test_participants_must_start_with_the_first_wishs_sender() -> None:
    assert_one(violations(with_meeting(0, participants=("p2", "p1"))), "must start with p1")


def test_wrong_meeting_kind_is_refused() -> None:
    assert_one(violations(with_meeting(0, kind="B2B")), "kind is B2B, but p1 and p2 make C2B")


def test_participant_in_two_meetings_in_one_slot_is_refused() -> None:
    bad = with_meeting(1, slot="s1")
    assert_one(violations(bad), "participant p1 has 2 meetings in slot s1")


def test_meeting_in_an_unavailable_slot_is_refused() -> None:
    bad = with_meeting(0, slot="s4")
    assert_one(violations(bad), "participant p2 is unavailable in slot s4")


def test_participant_above_its_own_cap_is_refused() -> None:
    problem = make_problem()
    capped = list(problem.participants)
    capped[0] = dataclasses.replace(capped[0], max_meetings=1)
    problem = dataclasses.replace(problem, participants=tuple(capped))
    assert_one(violations(GOOD, problem), "participant p1 holds 2 meetings, above its cap of 1")


def test_event_default_cap_applies_to_participants_without_their_own() -> None:
    problem = make_problem(max_meetings_per_participant=1)
    assert_one(violations(GOOD, problem), "participant p2 holds 2 meetings, above its cap of 1")


def test_event_total_cap_is_enforced() -> None:
    problem = make_problem(max_meetings_total=2)
    assert_one(violations(GOOD, problem), "the event holds 3 meetings, above its cap of 2")


def test_location_over_capacity_is_refused() -> None:
    base = make_problem()
    problem = dataclasses.replace(
        base,
        participants=(*base.participants, Participant("p6", "o6")),
        wishes=(*base.wishes, Wish("w5", "p6", "p5")),
    )
    bad = [*GOOD, Meeting(("w5",), "s1", "t1", ("p6", "p5"), "C2B")]
    assert_one(
        violations(bad, problem), "location t1 holds 2 meetings in slot s1, above its capacity of 1"
    )
    assert violations([*GOOD, dataclasses.replace(bad[-1], location="t2")], problem) == []


def test_online_participant_at_a_table_is_refused() -> None:
    assert_one(
        violations(with_meeting(1, location="t1")),
        "participant p3 attends online, but location t1 is not an online location",
    )


def test_onsite_pair_in_an_online_location_is_refused() -> None:
    assert_one(violations(with_meeting(0, location="video")), "p1 and p2 are both onsite")


def test_host_meets_away_from_its_host_location_is_refused() -> None:
    assert_one(
        violations(with_meeting(2, location="t1", slot="s3")),
        "participant p4 hosts at location t2, so its meetings are held there, not at t1",
    )


def test_session_and_fixed_slot_of_a_wish_are_enforced() -> None:
    problem = make_problem()
    wishes = list(problem.wishes)
    wishes[2] = dataclasses.replace(wishes[2], session="pm")
    wishes[3] = dataclasses.replace(wishes[3], fixed_slot="s3")
    found = violations(GOOD, dataclasses.replace(problem, wishes=tuple(wishes)))
    assert_one(found, "wish w3 must be met in session pm, but slot s2 is in session am")
    assert_one(found, "wish w4 is fixed to slot s3, but is met in slot s2")


def test_after_wish_must_be_met_strictly_earlier() -> None:
    problem = make_problem()
    wishes = list(problem.wishes)
    wishes[0] = dataclasses.replace(wishes[0], after=("w3",))
    problem = dataclasses.replace(problem, wishes=tuple(wishes))
    assert_one(violations(GOOD, problem), "wish w1 (slot s1) must come after wish w3")
    # Unmet `after` wishes do not bind.
    assert violations([GOOD[0], GOOD[2]], problem) == []


def test_pair_meeting_twice_for_wishes_that_are_not_separate_is_refused() -> None:
    split = [
        Meeting(("w1",), "s1", "t1", ("p1", "p2"), "C2B"),
        Meeting(("w2",), "s3", "t1", ("p2", "p1"), "C2B"),
    ]
    assert_one(violations(split), "participants p1 and p2 meet 2 times")


def test_separate_wish_gets_a_meeting_of_its_own() -> None:
    problem = make_problem()
    wishes = list(problem.wishes)
    wishes[1] = dataclasses.replace(wishes[1], separate=True)
    problem = dataclasses.replace(problem, wishes=tuple(wishes))
    assert_one(violations(GOOD, problem), "wish w2 asks for a separate meeting")
    split = [
        Meeting(("w1",), "s1", "t1", ("p1", "p2"), "C2B"),
        Meeting(("w2",), "s3", "t1", ("p2", "p1"), "C2B"),
    ]
    assert violations(split, problem) == []


def test_every_wish_is_met_once_or_unscheduled_never_both() -> None:
    problem = make_problem()
    missing = solution_of(problem, GOOD[:2])
    missing.unscheduled = []
    assert_one(check(problem, missing).violations, "wish w4 is neither met nor listed")
    both = solution_of(problem, GOOD)
    both.unscheduled = [Unscheduled("w3", "no_common_slot", "x")]
    assert_one(check(problem, both).violations, "wish w3 is both met and listed as unscheduled")
    twice = [*GOOD, Meeting(("w3",), "s3", "video", ("p1", "p3"), "C2B")]
    assert_one(violations(twice), "wish w3 is met by 2 meetings")


def test_unmet_required_wish_is_refused_unless_the_event_is_infeasible() -> None:
    problem = make_problem()
    without = [GOOD[1], GOOD[2]]
    assert_one(violations(without), "required wish w1 is not met, yet status is feasible")
    assert check(problem, solution_of(problem, without, status="infeasible")).ok


def test_misreported_objective_is_refused() -> None:
    problem = make_problem()
    solution = solution_of(problem, GOOD)
    solution.objective["scheduled_weight"] = 99
    del solution.objective["breaks"]
    found = check(problem, solution).violations
    assert_one(found, "objective 'scheduled_weight' is reported as 99, but the meetings give 8.0")
    assert_one(found, "objective 'breaks' is missing")


def test_breaks_are_free_runs_between_meetings_on_the_same_day() -> None:
    problem = make_problem()
    # p1: s1, s3 (one break at s2), s4 (adjacent), s5 on day 2 (not a break: other day).
    meetings = [
        Meeting(("w1", "w2"), "s1", "t1", ("p1", "p2"), "C2B"),
        Meeting(("w3",), "s3", "video", ("p1", "p3"), "C2B"),
        Meeting(("w4",), "s5", "t2", ("p2", "p4"), "C2B"),
    ]
    # p2: s1 and s5 are on different days: no break.
    assert evaluate(problem, meetings)["breaks"] == 1
    long_gap = [dataclasses.replace(meetings[1], slot="s4")]
    # p1: s1 and s4 with s2, s3 free (one run) is one break.
    assert evaluate(problem, [meetings[0], *long_gap])["breaks"] == 1


def test_break_difference_above_the_cap_is_refused() -> None:
    problem = make_problem(max_break_difference=0)
    meetings = [
        Meeting(("w1", "w2"), "s1", "t1", ("p1", "p2"), "C2B"),
        Meeting(("w3",), "s3", "video", ("p1", "p3"), "C2B"),
    ]
    assert_one(
        violations(meetings, problem),
        "participant p1 has 1 breaks and p2 has 0: more than the allowed difference of 0",
    )
    assert violations(meetings, make_problem(max_break_difference=1)) == []


def test_min_share_counts_sent_and_personally_received_wishes() -> None:
    problem = make_problem()
    # Only w3 met: p1 has w1, w2, w3 -> 1/3; p2 has w1, w2, w4 -> 0; p3 has w3 -> 1.
    assert evaluate(problem, [GOOD[1]])["min_share"] == 0.0
    # w1+w2 and w3 met: p2 has 2 of 3 (w4 to organisation o4 counts for its sender only).
    assert evaluate(problem, GOOD[:2])["min_share"] == pytest.approx(2 / 3)


def test_moved_counts_published_meetings_not_kept_in_place() -> None:
    published = (GOOD[0], GOOD[1], GOOD[2])
    problem = make_problem(published=published)
    moved = [GOOD[0], dataclasses.replace(GOOD[1], slot="s3"), GOOD[2]]
    assert evaluate(problem, GOOD)["moved"] == 0
    assert evaluate(problem, moved)["moved"] == 1
    assert evaluate(problem, GOOD[:1])["moved"] == 2
