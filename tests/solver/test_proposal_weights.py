"""Proposals (meetings the organisers proposed, accepted by both sides) are met only after
every wish the participants sent themselves (`solver.problem.wish_weights`)."""

from __future__ import annotations

from solver.check import evaluate
from solver.problem import PRIORITY_WEIGHT, Location, Participant, Wish, wish_weights
from tests.solver.test_model import event, met, slots, solved


def test_without_proposals_the_weights_are_the_priority_weights() -> None:
    wishes = [Wish("w1", "a", "b", priority=1), Wish("w2", "a", "c", priority=3)]
    assert wish_weights(wishes) == {"w1": PRIORITY_WEIGHT[1], "w2": PRIORITY_WEIGHT[3]}


def test_all_proposals_together_weigh_less_than_the_lightest_self_sent_wish() -> None:
    wishes = [Wish("w1", "a", "b", priority=3)] + [
        Wish(f"p{i}", f"x{i}", f"y{i}", priority=1, proposed=True) for i in range(5)
    ]
    weight = wish_weights(wishes)
    assert sum(weight[f"p{i}"] for i in range(5)) < weight["w1"]
    # Among self-sent wishes, priorities keep their order and ratios.
    both = wish_weights([Wish("w1", "a", "b", priority=1), Wish("p", "c", "d", proposed=True)])
    assert both["w1"] == PRIORITY_WEIGHT[1] * 2
    assert both["p"] == 1


def test_a_priority_3_wish_wins_the_slot_against_a_proposal() -> None:
    # One slot: a meets b (a's own wish, the lowest priority) or c (a proposal), not both.
    for order in (1, -1):
        wishes = [Wish("w1", "a", "b", priority=3), Wish("p1", "c", "a", proposed=True)][::order]
        solution = solved(event(wishes, time_grid=slots("am")))
        assert met(solution) == {"w1"}
        assert [u.wish for u in solution.unscheduled] == ["p1"]


def test_two_proposals_do_not_outweigh_one_self_sent_wish() -> None:
    # One slot. Meeting a-b (a's wish, priority 3) rules out both proposals a-c and b-d; with
    # plain priority weights the two proposals (1 + 1) would beat the one wish (1).
    wishes = [
        Wish("w1", "a", "b", priority=3),
        Wish("p1", "a", "c", priority=3, proposed=True),
        Wish("p2", "b", "d", priority=3, proposed=True),
    ]
    problem = event(
        wishes,
        participants=[Participant(p, organisation=f"org-{p}") for p in "abcd"],
        time_grid=slots("am"),
        locations=(Location("t1"), Location("t2")),
    )
    solution = solved(problem)
    assert met(solution) == {"w1"}
    assert solution.objective["scheduled_weight"] == wish_weights(wishes)["w1"] == 3
    assert evaluate(problem, solution.meetings)["scheduled_weight"] == 3


def test_proposals_fill_what_self_sent_wishes_leave() -> None:
    wishes = [Wish("w1", "a", "b", priority=3), Wish("p1", "a", "c", proposed=True)]
    solution = solved(event(wishes, time_grid=slots("am", "am")))
    assert met(solution) == {"w1", "p1"}


def test_a_replan_starts_from_the_published_meetings_with_the_proposals_that_fit() -> None:
    from dataclasses import replace

    from solver.problem import Meeting
    from solver.replan import filled, kept_published

    published = Meeting(("w1",), "s1", "t1", ("a", "b"), "B2B")
    wishes = [Wish("w1", "a", "b", priority=3), Wish("p1", "a", "c", proposed=True)]
    problem = replace(event(wishes, time_grid=slots("am", "am")), published=(published,))
    start = filled(problem, kept_published(problem))
    assert start[0] == published
    assert [m.wishes for m in start] == [("w1",), ("p1",)]
    solution = solved(problem)
    assert met(solution) == {"w1", "p1"}
    assert published in solution.meetings
