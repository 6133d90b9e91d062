"""Every unscheduled wish gets the reason the rules give, and infeasible events a small core."""

from __future__ import annotations

import dataclasses

from solver.explain import explain_unscheduled, find_conflicts
from solver.problem import GOALS, Location, Meeting, Participant, Problem, Slot, Wish


def event(
    wishes: list[Wish],
    people: int = 6,
    slots: int = 3,
    tables: int = 3,
    participants: dict[str, Participant] | None = None,
    **rules: object,
) -> Problem:
    """An event with participants p1..pN (each its own organisation o1..oN) and slots s1..sN
    (s1 in the morning session `am`, the rest in `pm`, one day)."""
    persons = {f"p{i}": Participant(f"p{i}", f"o{i}") for i in range(1, people + 1)}
    persons.update(participants or {})
    return Problem(
        event="explain",
        slots=tuple(
            Slot(f"s{i}", "am" if i == 1 else "pm", "2024-09-10") for i in range(1, slots + 1)
        ),
        locations=tuple(Location(f"t{i}") for i in range(1, tables + 1)),
        participants=tuple(persons.values()),
        wishes=tuple(wishes),
        **rules,  # type: ignore[arg-type]
    )


def meet(wish: str, a: str, b: str, slot: str, location: str = "t1") -> Meeting:
    return Meeting((wish,), slot, location, (a, b), "B2B")


def reason(problem: Problem, meetings: list[Meeting], wish: str) -> tuple[str, str]:
    found = {u.wish: (u.reason, u.detail) for u in explain_unscheduled(problem, meetings)}
    return found[wish]


def test_every_unmet_wish_is_explained_and_no_met_one() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p3", "p4"), Wish("w3", "p5", "p6")])
    explained = explain_unscheduled(problem, [meet("w1", "p1", "p2", "s1")])
    assert [u.wish for u in explained] == ["w2", "w3"]


def test_wish_between_participants_never_available_together_has_no_common_slot() -> None:
    problem = event(
        [Wish("w1", "p1", "p2")],
        participants={
            "p1": Participant("p1", "o1", unavailable=frozenset({"s1", "s2"})),
            "p2": Participant("p2", "o2", unavailable=frozenset({"s3"})),
        },
    )
    assert reason(problem, [], "w1") == (
        "no_common_slot",
        "p1 and p2 share no slot in which both are available",
    )


def test_no_common_slot_names_the_session_the_wish_asks_for() -> None:
    problem = event(
        [Wish("w1", "p1", "p2", session="am")],
        participants={"p2": Participant("p2", "o2", unavailable=frozenset({"s1"}))},
    )
    code, detail = reason(problem, [], "w1")
    assert code == "no_common_slot"
    assert "in session am" in detail


def test_wish_to_an_organisation_without_other_representatives_cannot_be_met() -> None:
    problem = event([Wish("w1", "p1", recipient_organisation="o1")])
    code, detail = reason(problem, [], "w1")
    assert code == "no_common_slot"
    assert "organisation o1 has no other representative" in detail


def test_online_pair_without_an_online_room_has_no_suitable_location() -> None:
    problem = event(
        [Wish("w1", "p1", "p2")], participants={"p1": Participant("p1", "o1", online=True)}
    )
    assert reason(problem, [], "w1") == (
        "no_suitable_location",
        "p1 and p2 must meet online, but the event has no online room",
    )


def test_pair_already_meeting_for_another_wish_is_already_meeting() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p2", "p1", fixed_slot="s2")])
    code, detail = reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "already_meeting"
    assert "p2 and p1 already meet in slot s1 for wish w1" in detail


def test_organisation_already_met_by_the_sender() -> None:
    wishes = [Wish("w1", "p1", "p2"), Wish("w2", "p1", recipient_organisation="o2", session="pm")]
    code, detail = reason(event(wishes), [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "organisation_already_met"
    assert "p1 already meets p2 of organisation o2 in slot s1" in detail
    # Another representative of o2 could still take the meeting: the pair rule is not why.
    other = event(wishes, participants={"p3": Participant("p3", "o2")})
    assert reason(other, [meet("w1", "p1", "p2", "s1")], "w2")[0] == "not_found"


def test_reply_wish_that_could_have_joined_the_pairs_meeting_is_not_found() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p2", "p1")])
    code, detail = reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "not_found"
    assert "could have joined that meeting" in detail


def test_participant_at_its_cap_could_only_meet_by_dropping_a_meeting() -> None:
    problem = event(
        [Wish("w1", "p1", "p2"), Wish("w2", "p3", "p1")],
        participants={"p1": Participant("p1", "o1", max_meetings=1)},
    )
    assert reason(problem, [meet("w1", "p1", "p2", "s1")], "w2") == (
        "participant_at_cap",
        "p1 already has 1 meeting, the most allowed, so this one could only be added by "
        "dropping one of them",
    )


def test_event_at_its_total_cap() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p3", "p4")], max_meetings_total=1)
    code, _ = reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "event_cap"


def test_both_free_but_every_table_taken_is_location_capacity() -> None:
    problem = event(
        [Wish("w1", "p1", "p2"), Wish("w2", "p3", "p4"), Wish("w3", "p5", "p6")],
        slots=2,
        tables=1,
    )
    meetings = [meet("w1", "p1", "p2", "s1"), meet("w2", "p3", "p4", "s2")]
    assert reason(problem, meetings, "w3") == (
        "location_capacity",
        "p5 and p6 are both free in s1, s2, but every suitable table or room is taken then",
    )


def test_wish_blocked_only_by_meetings_of_higher_priority_lost_to_them() -> None:
    problem = event(
        [Wish("w1", "p1", "p2", priority=1), Wish("w2", "p1", "p3", priority=3)], slots=1
    )
    code, _ = reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "lost_to_higher_priority"


def test_wish_blocked_by_a_meeting_of_lower_priority_did_not_lose_to_priority() -> None:
    problem = event(
        [Wish("w1", "p1", "p2", priority=3), Wish("w2", "p1", "p3", priority=1)], slots=1
    )
    code, _ = reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "participants_busy"


def test_required_meeting_outranks_any_priority() -> None:
    problem = event(
        [Wish("w1", "p1", "p2", priority=3, required=True), Wish("w2", "p1", "p3", priority=1)],
        slots=1,
    )
    code, _ = reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "lost_to_higher_priority"


def test_free_time_only_before_the_meeting_it_must_follow_is_precedence() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p1", "p3", after=("w1",))], slots=2)
    code, detail = reason(problem, [meet("w1", "p1", "p2", "s2")], "w2")
    assert code == "precedence"
    assert "after the meeting for wish w1" in detail


def test_fixed_slot_taken_by_another_meeting() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p1", "p3", fixed_slot="s1")])
    assert reason(problem, [meet("w1", "p1", "p2", "s1")], "w2") == (
        "fixed_slot_taken",
        "its fixed slot s1 is taken: p1 already has a meeting then",
    )


def test_free_time_that_breaks_the_fairness_cap_is_breaks_limit() -> None:
    problem = event(
        [Wish("w1", "p1", "p2"), Wish("w2", "p1", "p3", fixed_slot="s3")],
        max_break_difference=0,
    )
    code, _ = reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")
    assert code == "breaks_limit"


def test_free_time_refused_for_a_goal_ranked_above_scheduled() -> None:
    wishes = [Wish("w1", "p1", "p2"), Wish("w2", "p1", "p3", fixed_slot="s3")]
    problem = event(wishes, objective=("required", "breaks", "scheduled"))
    assert reason(problem, [meet("w1", "p1", "p2", "s1")], "w2") == (
        "objective_order",
        "a time was free, but adding this meeting would worsen a goal the event ranks higher "
        "(breaks)",
    )
    problem = event(wishes, objective=("required", "fairness", "scheduled"))
    assert reason(problem, [meet("w1", "p1", "p2", "s1")], "w2")[0] == "fairness"


def test_free_time_left_unused_by_the_default_goals_says_the_scheduler_stopped() -> None:
    problem = event([Wish("w1", "p1", "p2")], objective=GOALS)
    code, detail = reason(problem, [], "w1")
    assert code == "not_found"
    assert "p1 and p2 were both free (e.g. s1, s2, s3)" in detail


# --- find_conflicts --------------------------------------------------------------------------


def test_feasible_required_wishes_have_no_conflict() -> None:
    problem = event([Wish("w1", "p1", "p2", required=True), Wish("w2", "p2", "p3", required=True)])
    assert find_conflicts(problem) == []


def test_required_wish_without_a_common_slot_is_an_obvious_conflict() -> None:
    problem = event(
        [Wish("w1", "p1", "p2", required=True, fixed_slot="s1"), Wish("w2", "p3", "p4")],
        participants={"p2": Participant("p2", "o2", unavailable=frozenset({"s1"}))},
    )
    (conflict,) = find_conflicts(problem)
    assert conflict.wishes == ("w1",)
    assert conflict.rule == "no_common_slot"


def test_participant_with_more_required_meetings_than_its_cap() -> None:
    problem = event(
        [Wish(f"w{i}", "p1", f"p{i + 1}", required=True) for i in range(1, 4)],
        participants={"p1": Participant("p1", "o1", max_meetings=2)},
    )
    (conflict,) = find_conflicts(problem)
    assert conflict.rule == "participant_cap"
    assert conflict.wishes == ("w1", "w2", "w3")
    assert "p1 must hold 3 required meetings (w1, w2, w3) but may hold at most 2" in conflict.detail


def test_participant_with_more_required_meetings_than_free_slots() -> None:
    problem = event([Wish(f"w{i}", f"p{i + 1}", "p1", required=True) for i in range(1, 4)], slots=2)
    (conflict,) = find_conflicts(problem)
    assert conflict.rule == "not_enough_slots"


def test_three_required_meetings_in_a_triangle_cannot_fit_two_slots() -> None:
    problem = event(
        [
            Wish("w1", "p1", "p2", required=True),
            Wish("w2", "p2", "p3", required=True),
            Wish("w3", "p3", "p1", required=True),
            Wish("w4", "p4", "p5", required=True),
            Wish("w5", "p1", "p4"),
        ],
        slots=2,
    )
    (conflict,) = find_conflicts(problem)
    # The core is the triangle only: the unrelated required meeting is not part of it.
    assert conflict.wishes == ("w1", "w2", "w3")
    assert conflict.rule == "one_meeting_per_slot"


def test_required_meetings_fixed_to_the_same_slot_name_the_fixed_slot_rule() -> None:
    problem = event(
        [
            Wish("w1", "p1", "p2", required=True, fixed_slot="s2"),
            Wish("w2", "p3", "p1", required=True, fixed_slot="s2"),
            Wish("w3", "p4", "p5", required=True),
        ]
    )
    conflicts = find_conflicts(problem)
    assert {c.rule for c in conflicts} == {"fixed_slot"}
    assert {w for c in conflicts for w in c.wishes} == {"w1", "w2"}
    assert all("must be met in slot s2" in c.detail for c in conflicts)


def test_required_meetings_that_must_each_come_after_the_other_conflict() -> None:
    problem = event(
        [
            Wish("w1", "p1", "p2", required=True, after=("w2",)),
            Wish("w2", "p3", "p4", required=True, after=("w1",)),
        ]
    )
    conflicts = find_conflicts(problem)
    assert {c.rule for c in conflicts} == {"precedence"}
    assert {w for c in conflicts for w in c.wishes} == {"w1", "w2"}


def test_more_required_meetings_at_once_than_tables() -> None:
    problem = event(
        [Wish("w1", "p1", "p2", required=True), Wish("w2", "p3", "p4", required=True)],
        slots=1,
        tables=1,
    )
    (conflict,) = find_conflicts(problem)
    assert conflict.rule == "location_capacity"
    assert conflict.wishes == ("w1", "w2")


def test_required_meetings_that_fit_only_with_too_many_breaks_name_the_break_limit() -> None:
    # p1 must meet p2 in s1 and p3 in s3: one break for p1, none for the others.
    problem = event(
        [
            Wish("w1", "p1", "p2", required=True, fixed_slot="s1"),
            Wish("w2", "p1", "p3", required=True, fixed_slot="s3"),
        ],
        max_break_difference=0,
    )
    conflicts = {c.rule: c for c in find_conflicts(problem)}
    # The fixed slots are what force the break; moving either meeting would avoid it.
    assert set(conflicts) == {"max_break_difference", "fixed_slot"}
    assert conflicts["max_break_difference"].wishes == ("w1", "w2")
    assert find_conflicts(dataclasses.replace(problem, max_break_difference=1)) == []
