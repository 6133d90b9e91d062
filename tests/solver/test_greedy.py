"""The greedy baseline books first come, first served, earliest slot first, within the rules."""

from __future__ import annotations

import random

from solver.check import check
from solver.greedy import greedy
from solver.problem import Location, Meeting, Participant, Problem, Slot, Wish


def event(
    wishes: list[Wish], slots: int = 3, participants: dict[str, Participant] | None = None
) -> Problem:
    persons = {f"p{i}": Participant(f"p{i}", f"o{i}") for i in range(1, 6)}
    persons.update(participants or {})
    return Problem(
        event="greedy",
        slots=tuple(Slot(f"s{i}", "am", "2024-09-10") for i in range(1, slots + 1)),
        locations=(Location("t1"), Location("t2"), Location("video", "online", 10)),
        participants=tuple(persons.values()),
        wishes=tuple(wishes),
    )


def test_first_request_takes_the_earliest_free_slot_whatever_its_priority() -> None:
    problem = event(
        [Wish("w1", "p1", "p2", priority=3), Wish("w2", "p3", "p1", priority=1)],
        slots=1,
    )
    solution = greedy(problem)
    assert solution.meetings == [Meeting(("w1",), "s1", "t1", ("p1", "p2"), "B2B")]
    assert [(u.wish, u.reason) for u in solution.unscheduled] == [("w2", "participants_busy")]
    assert check(problem, solution).ok


def test_later_requests_go_to_the_next_free_slot() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p1", "p3"), Wish("w3", "p2", "p3")])
    slots = {m.wishes: m.slot for m in greedy(problem).meetings}
    assert slots == {("w1",): "s1", ("w2",): "s2", ("w3",): "s3"}


def test_reply_wish_joins_the_meeting_already_booked() -> None:
    problem = event([Wish("w1", "p1", "p2"), Wish("w2", "p2", "p1")])
    solution = greedy(problem)
    assert solution.meetings == [Meeting(("w1", "w2"), "s1", "t1", ("p1", "p2"), "B2B")]
    assert solution.objective["scheduled"] == 2


def test_wish_to_an_organisation_goes_to_the_representative_free_first() -> None:
    problem = event(
        [Wish("w1", "p1", "p2"), Wish("w2", "p3", recipient_organisation="o2")],
        participants={"p4": Participant("p4", "o2")},
    )
    (_, second) = greedy(problem).meetings
    assert (second.participants, second.slot) == (("p3", "p4"), "s1")


def test_hosts_meet_at_their_location_and_online_participants_online() -> None:
    problem = event(
        [Wish("w1", "p1", "p2"), Wish("w2", "p3", "p4")],
        participants={
            "p2": Participant("p2", "o2", host_location="t2"),
            "p4": Participant("p4", "o4", online=True),
        },
    )
    locations = {m.wishes: m.location for m in greedy(problem).meetings}
    assert locations == {("w1",): "t2", ("w2",): "video"}


def test_caps_and_order_are_respected_and_unmet_required_wish_marks_it_infeasible() -> None:
    problem = event(
        [
            Wish("w1", "p1", "p2"),
            Wish("w2", "p1", "p3", required=True),
            Wish("w3", "p4", "p5", after=("w4",)),
            Wish("w4", "p4", "p2"),
        ],
        participants={"p1": Participant("p1", "o1", max_meetings=1)},
    )
    solution = greedy(problem)
    assert solution.status == "infeasible"
    slots = {m.wishes: m.slot for m in solution.meetings}
    assert slots == {("w1",): "s1", ("w3",): "s1"}
    assert {u.wish: u.reason for u in solution.unscheduled}["w4"] == "precedence"
    assert check(problem, solution).ok


def test_greedy_schedule_of_a_generated_event_passes_the_checker() -> None:
    rng = random.Random(7)
    people = [
        Participant(
            f"p{i}",
            f"o{i % 40}",
            rng.choice(["cluster", "company", "research"]),
            online=rng.random() < 0.1,
            unavailable=frozenset(f"s{j}" for j in range(1, 13) if rng.random() < 0.1),
            host_location=f"t{i}" if i < 10 else None,
        )
        for i in range(80)
    ]
    wishes = [
        Wish(f"w{k}", a, b, priority=rng.randint(1, 3))
        for k, (a, b) in enumerate(
            (rng.choice(people).id, rng.choice(people).id) for _ in range(400)
        )
        if a != b
    ]
    problem = Problem(
        event="generated",
        slots=tuple(Slot(f"s{i}", "am" if i <= 6 else "pm", "d1") for i in range(1, 13)),
        locations=(*(Location(f"t{i}") for i in range(30)), Location("video", "online", 20)),
        participants=tuple(people),
        wishes=tuple(wishes),
        max_meetings_per_participant=8,
        max_break_difference=3,
    )
    solution = greedy(problem)
    report = check(problem, solution)
    assert report.ok, report.violations[:5]
    assert solution.objective["scheduled"] > len(wishes) / 2
