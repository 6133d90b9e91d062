"""The CP-SAT timetable engine, rule by rule, on small hand-made events.

Every schedule the solver returns here also goes through the independent checker
(`solver.check`), so a rule the model forgets shows up twice: as the expected fact failing and
as a checker violation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from solver import solve
from solver.check import check
from solver.problem import (
    Location,
    Meeting,
    Participant,
    Problem,
    Progress,
    Slot,
    Solution,
    SolveParameters,
    Wish,
)

QUICK = SolveParameters(time_limit_seconds=20, deterministic=True)


def slots(*sessions: str, day: str = "2024-09-10", first: int = 1) -> tuple[Slot, ...]:
    """One slot per entry, named s<first>, s<first+1>, ... in the given sessions."""
    return tuple(
        Slot(f"s{first + i}", session, day, 540 + 25 * i, 560 + 25 * i)
        for i, session in enumerate(sessions)
    )


def people(*ids: str, **overrides: Participant) -> tuple[Participant, ...]:
    return tuple(overrides.get(p, Participant(p, organisation=f"org-{p}")) for p in ids)


def event(
    wishes: Sequence[Wish],
    *,
    participants: Sequence[Participant] | None = None,
    time_grid: Sequence[Slot] | None = None,
    locations: Sequence[Location] = (Location("t1"), Location("t2")),
    **rules: object,
) -> Problem:
    ids = sorted({w.sender for w in wishes} | {w.recipient for w in wishes if w.recipient})
    return Problem(
        event="test-event",
        slots=tuple(time_grid or slots("am", "am", "am")),
        locations=tuple(locations),
        participants=tuple(participants or people(*ids)),
        wishes=tuple(wishes),
        **rules,  # type: ignore[arg-type]
    )


def solved(problem: Problem, params: SolveParameters = QUICK) -> Solution:
    solution = solve(problem, params)
    assert check(problem, solution).violations == []
    return solution


def meeting_of(solution: Solution, wish: str) -> Meeting:
    return next(m for m in solution.meetings if wish in m.wishes)


def met(solution: Solution) -> set[str]:
    return {w for m in solution.meetings for w in m.wishes}


# ---------------------------------------------------------------- hard rules


def test_participant_never_holds_two_meetings_in_one_slot() -> None:
    wishes = [Wish("w1", "a", "b"), Wish("w2", "a", "c"), Wish("w3", "a", "d")]
    solution = solved(event(wishes))
    assert met(solution) == {"w1", "w2", "w3"}
    assert len({m.slot for m in solution.meetings}) == 3


def test_unavailable_slot_is_never_used() -> None:
    busy = Participant("a", "org-a", unavailable=frozenset({"s1", "s3"}))
    problem = event([Wish("w1", "a", "b")], participants=(busy, *people("b")))
    assert meeting_of(solved(problem), "w1").slot == "s2"


def test_participant_cap_and_event_cap_limit_meetings() -> None:
    wishes = [Wish("w1", "a", "b"), Wish("w2", "a", "c"), Wish("w3", "d", "e")]
    capped = Participant("a", "org-a", max_meetings=1)
    problem = event(wishes, participants=(capped, *people("b", "c", "d", "e")))
    assert len(solved(problem).meetings) == 2
    assert len(solved(event(wishes, max_meetings_total=1)).meetings) == 1


def test_location_capacity_limits_meetings_per_slot() -> None:
    wishes = [Wish(f"w{i}", f"a{i}", f"b{i}") for i in range(3)]
    problem = event(wishes, time_grid=slots("am"), locations=(Location("t1", capacity=2),))
    solution = solved(problem)
    assert len(solution.meetings) == 2
    assert len(solution.unscheduled) == 1


def test_host_meets_at_own_location_and_two_hosts_of_different_tables_cannot_meet() -> None:
    host = Participant("h", "org-h", host_location="stand")
    other_host = Participant("g", "org-g", host_location="booth")
    locations = (Location("t1"), Location("stand"), Location("booth"))
    wishes = [Wish("w1", "a", "h"), Wish("w2", "h", "g")]
    problem = event(wishes, participants=(host, other_host, *people("a")), locations=locations)
    solution = solved(problem)
    assert meeting_of(solution, "w1").location == "stand"
    assert "w2" not in met(solution)


def test_others_may_use_a_host_location_while_the_host_is_not_meeting_there() -> None:
    host = Participant("h", "org-h", host_location="stand")
    problem = event(
        [Wish("w1", "a", "h"), Wish("w2", "b", "c")],
        participants=(host, *people("a", "b", "c")),
        time_grid=slots("am", "am"),
        locations=(Location("stand"),),
    )
    solution = solved(problem)
    assert [m.location for m in solution.meetings] == ["stand", "stand"]
    assert meeting_of(solution, "w1").slot != meeting_of(solution, "w2").slot


def test_online_participant_meets_in_online_location() -> None:
    remote = Participant("r", "org-r", online=True)
    locations = (Location("t1"), Location("video", kind="online", capacity=5))
    wishes = [Wish("w1", "a", "r"), Wish("w2", "a", "b")]
    solution = solved(event(wishes, participants=(remote, *people("a", "b")), locations=locations))
    assert meeting_of(solution, "w1").location == "video"
    assert meeting_of(solution, "w2").location == "t1"


def test_wish_session_and_fixed_slot_are_respected() -> None:
    grid = slots("am", "am", "pm", "pm")
    wishes = [Wish("w1", "a", "b", session="pm"), Wish("w2", "a", "c", fixed_slot="s2")]
    solution = solved(event(wishes, time_grid=grid))
    assert meeting_of(solution, "w1").slot in {"s3", "s4"}
    assert meeting_of(solution, "w2").slot == "s2"


def test_after_puts_the_earlier_meeting_strictly_before() -> None:
    wishes = [Wish("w1", "a", "b", after=("w2",)), Wish("w2", "c", "a", fixed_slot="s2")]
    solution = solved(event(wishes))
    assert meeting_of(solution, "w1").slot == "s3"


def test_after_does_not_bind_when_the_earlier_meeting_is_not_held() -> None:
    away = Participant("c", "org-c", unavailable=frozenset({"s1", "s2", "s3"}))
    wishes = [Wish("w1", "a", "b", after=("w2",)), Wish("w2", "c", "a")]
    solution = solved(
        event(wishes, time_grid=slots("am", "am", "am"), participants=(away, *people("a", "b")))
    )
    assert met(solution) == {"w1"}


def test_wish_to_an_organisation_is_met_by_at_most_one_representative() -> None:
    reps = (Participant("r1", "acme"), Participant("r2", "acme"), Participant("a", "org-a"))
    wish = Wish("w1", "a", recipient_organisation="acme")
    solution = solved(event([wish], participants=reps))
    assert len(solution.meetings) == 1
    assert set(solution.meetings[0].participants) & {"r1", "r2"}


def test_mutual_wish_is_one_meeting_that_counts_both_weights() -> None:
    wishes = [Wish("w1", "a", "b", priority=1), Wish("w2", "b", "a", priority=3)]
    solution = solved(event(wishes))
    assert [m.wishes for m in solution.meetings] == [("w1", "w2")]
    assert solution.objective["scheduled_weight"] == 3 + 1


def test_separate_wish_gets_a_meeting_of_its_own() -> None:
    wishes = [Wish("w1", "a", "b"), Wish("w2", "b", "a", separate=True)]
    solution = solved(event(wishes))
    assert sorted(m.wishes for m in solution.meetings) == [("w1",), ("w2",)]


def test_required_meeting_that_cannot_fit_makes_event_infeasible() -> None:
    wishes = [Wish(f"w{i}", "a", f"b{i}", required=True) for i in range(4)]
    solution = solve(event(wishes), QUICK)
    assert solution.status == "infeasible"
    assert solution.meetings == []
    assert {u.wish for u in solution.unscheduled} == {w.id for w in wishes}


def test_higher_priority_wish_wins_the_last_place() -> None:
    wishes = [Wish("w1", "a", "b", priority=3), Wish("w2", "a", "c", priority=1)]
    solution = solved(event(wishes, time_grid=slots("am")))
    assert met(solution) == {"w2"}
    assert [u.wish for u in solution.unscheduled] == ["w1"]


# ---------------------------------------------------------------- goals


def test_breaks_count_across_sessions_of_a_day_but_never_across_days() -> None:
    grid = slots("am", "am", "pm", day="d1") + slots("am", "pm", day="d2", first=4)
    fixed = [("w1", "b", "s1"), ("w2", "c", "s3"), ("w3", "d", "s4"), ("w4", "e", "s5")]
    wishes = [Wish(w, "a", other, fixed_slot=slot) for w, other, slot in fixed]
    solution = solved(event(wishes, time_grid=grid, objective=("required", "scheduled")))
    # s1 and s3 hold a free s2 between them on day 1 (one break, though s3 is another
    # session); s3 -> s4 changes day, so no break; s4 and s5 are neighbours.
    assert solution.objective["breaks"] == 1


def test_breaks_goal_packs_meetings_together() -> None:
    wishes = [Wish("w1", "a", "b"), Wish("w2", "a", "c"), Wish("w3", "c", "d")]
    grid = slots("am", "am", "am", "am", "am")
    solution = solved(event(wishes, time_grid=grid, objective=("required", "scheduled", "breaks")))
    assert solution.status == "optimal"
    assert solution.objective["breaks"] == 0


def test_break_difference_caps_the_unluckiest_participant() -> None:
    # "a" meets b at s1 and d at s5 with c somewhere between: a has a break at least, while
    # b, c and d hold one meeting each (no break). With d = 0 all three cannot be held.
    grid = slots("am", "am", "am", "am", "am")
    wishes = [
        Wish("w1", "a", "b", fixed_slot="s1"),
        Wish("w2", "a", "c"),
        Wish("w3", "a", "d", fixed_slot="s5"),
    ]
    goals = ("required", "scheduled", "breaks")
    loose = solved(event(wishes, time_grid=grid, objective=goals))
    fair = solved(event(wishes, time_grid=grid, objective=goals, max_break_difference=0))
    assert len(loose.meetings) == 3
    assert loose.objective["breaks"] == 1
    assert len(fair.meetings) == 2
    assert fair.objective["breaks"] == 0


@pytest.mark.parametrize(
    "goals", [("required", "scheduled"), ("required", "stability", "scheduled")]
)
def test_break_difference_holds_when_breaks_are_not_a_goal(goals: tuple[str, ...]) -> None:
    # The cap is a rule of the event: without the breaks goal it still binds. "a" can meet b
    # only in s1 and c only in s3, so holding both gives "a" a break and b, c none.
    wishes = [Wish("w1", "a", "b"), Wish("w2", "a", "c")]
    who = people(
        "a",
        "b",
        "c",
        b=Participant("b", "org-b", unavailable=frozenset({"s2", "s3"})),
        c=Participant("c", "org-c", unavailable=frozenset({"s1", "s2"})),
    )
    loose = solved(event(wishes, participants=who, objective=goals))
    fair = solved(event(wishes, participants=who, objective=goals, max_break_difference=0))
    one = solved(event(wishes, participants=who, objective=goals, max_break_difference=1))
    assert len(loose.meetings) == 2
    assert len(fair.meetings) == 1
    assert len(one.meetings) == 2


def test_fairness_first_gives_the_least_served_participant_a_meeting() -> None:
    # z takes one meeting only: x's priority-1 wish outweighs y's priority-3 one, but y has no
    # other wish while x can still meet v.
    z = Participant("z", "org-z", max_meetings=1)
    wishes = [
        Wish("w1", "x", "z", priority=1),
        Wish("w2", "y", "z", priority=3),
        Wish("w3", "x", "v", priority=3),
    ]
    crowd = (z, *people("x", "y", "v"))
    grid = slots("am", "am")
    by_weight = solved(event(wishes, participants=crowd, time_grid=grid))
    by_share = solved(
        event(
            wishes,
            participants=crowd,
            time_grid=grid,
            objective=("required", "fairness", "scheduled"),
        )
    )
    assert met(by_weight) == {"w1", "w3"}
    assert by_weight.objective["min_share"] == 0
    assert met(by_share) == {"w2", "w3"}
    assert by_share.objective["min_share"] == 0.5


def test_replan_keeps_published_meetings_in_place() -> None:
    wishes = [Wish("w1", "a", "b"), Wish("w2", "c", "d")]
    published = (
        Meeting(("w1",), "s3", "t2", ("a", "b"), "B2B"),
        Meeting(("w2",), "s2", "t1", ("c", "d"), "B2B"),
    )
    problem = event(
        [*wishes, Wish("w3", "a", "c")],
        objective=("required", "scheduled", "stability"),
        published=published,
    )
    solution = solved(problem)
    assert solution.objective["moved"] == 0
    assert (meeting_of(solution, "w1").slot, meeting_of(solution, "w1").location) == ("s3", "t2")
    assert (meeting_of(solution, "w2").slot, meeting_of(solution, "w2").location) == ("s2", "t1")
    assert [m.change for m in solution.moves] == ["added"]


def test_replan_reports_a_published_meeting_that_had_to_move() -> None:
    late = Participant("b", "org-b", unavailable=frozenset({"s3"}))
    published = (Meeting(("w1",), "s3", "t1", ("a", "b"), "B2B"),)
    problem = event(
        [Wish("w1", "a", "b")],
        participants=(late, *people("a")),
        objective=("required", "scheduled", "stability"),
        published=published,
    )
    solution = solved(problem)
    assert solution.objective["moved"] == 1
    assert [(m.change, m.old_slot) for m in solution.moves] == [("moved", "s3")]


# ---------------------------------------------------------------- running a solve


def crowded_event(n: int = 16) -> Problem:
    """A round robin among n participants over n - 1 slots: big enough to take a while."""
    wishes = [Wish(f"w{i}-{j}", f"p{i}", f"p{j}") for i in range(n) for j in range(i + 1, n)]
    grid = slots(*["am"] * (n - 1))
    tables = tuple(Location(f"t{i}") for i in range(n // 2))
    return event(wishes, time_grid=grid, locations=tables, max_break_difference=1)


def test_cancel_stops_the_solve_and_returns_the_best_schedule_so_far() -> None:
    cancel = threading.Event()
    seen: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        cancel.set()

    params = SolveParameters(
        time_limit_seconds=120, cancel=cancel, on_progress=on_progress, progress_interval_seconds=0
    )
    solution = solve(crowded_event(), params)
    assert solution.cancelled
    assert solution.solve_seconds < 60
    assert seen
    assert seen[0].goal == "scheduled"
    if solution.meetings:
        assert check(crowded_event(), solution).violations == []


def test_cancel_before_start_returns_the_greedy_schedule_or_none() -> None:
    cancel = threading.Event()
    cancel.set()
    params = SolveParameters(cancel=cancel)
    with_greedy = solve(event([Wish("w1", "a", "b")]), params)
    assert with_greedy.cancelled
    assert with_greedy.status == "feasible"
    assert met(with_greedy) == {"w1"}
    breaks_only = solve(event([Wish("w1", "a", "b")], objective=("required", "breaks")), params)
    assert breaks_only.cancelled
    assert breaks_only.status == "unknown"
    assert [u.wish for u in breaks_only.unscheduled] == ["w1"]


def test_deterministic_mode_gives_the_same_schedule_twice() -> None:
    wishes = [Wish(f"w{i}", f"p{i % 5}", f"p{(i * 3 + 1) % 7 + 5}") for i in range(14)]
    problem = event(wishes, time_grid=slots(*["am"] * 5))
    first, second = solve(problem, QUICK), solve(problem, QUICK)
    assert first.meetings == second.meetings
    assert first.objective == second.objective


def test_b2b_instance_tic_12_reaches_its_proven_optimum() -> None:
    problem = _b2b_instance("tic-12")
    solution = solved(problem, SolveParameters(time_limit_seconds=120, deterministic=True))
    assert solution.status == "optimal"
    assert solution.objective["breaks"] == 0  # reference-optima-d2.csv
    assert len(solution.meetings) == 125


def _b2b_instance(name: str) -> Problem:
    import json
    from pathlib import Path

    from matchmaking.bundle.dzn import convert_dzn
    from matchmaking.bundle.problem import bundle_to_problem
    from matchmaking.bundle.validate import parse_bundle

    data = Path(__file__).resolve().parents[3] / "shared" / "data" / "b2b-udg"
    bundle = parse_bundle(json.dumps(convert_dzn(data / f"{name}.original.dzn")).encode())
    return bundle_to_problem(bundle)


@pytest.mark.slow
def test_retiming_climb_proves_the_optimum_above_the_first_bound() -> None:
    """forum-13crafc (optimum 1): "no break at all" is impossible, so the climb goes on on the
    compact re-timing model, two questions at a time ("at most 1?" and "at most 2?"); the
    first "yes" at the proven bound is the optimum."""
    problem = _b2b_instance("forum-13crafc")
    solution = solved(problem, SolveParameters(time_limit_seconds=25, workers=2))
    assert solution.status == "optimal"
    assert solution.objective["breaks"] == solution.bound["breaks"] == 1  # reference-optima-d2
    assert len(solution.meetings) == 154


@pytest.mark.slow
def test_climb_out_of_time_reports_a_bound_that_holds() -> None:
    """ticf-13crafb (optimum 3): the compact model proves "at most 2" impossible within a few
    seconds, then "at most 3" may outlast a short time limit. Whichever way the climb ends, the
    schedule is valid (the checker, in `solved`), the bound reported holds, and "optimal" only
    at the optimum."""
    problem = _b2b_instance("ticf-13crafb")
    solution = solved(problem, SolveParameters(time_limit_seconds=12, workers=2))
    assert solution.status in ("optimal", "feasible")
    assert len(solution.meetings) == 195
    breaks = solution.objective["breaks"]
    assert solution.bound["breaks"] <= 3 <= breaks  # reference-optima-d2.csv: 3
    if solution.status == "optimal":
        assert breaks == solution.bound["breaks"] == 3


def test_required_meetings_that_cannot_fit_are_infeasible_when_only_breaks_count() -> None:
    wishes = [Wish(f"w{i}", "a", f"b{i}", required=True) for i in range(4)]
    problem = event(wishes, objective=("required", "breaks"), max_break_difference=2)
    solution = solve(problem, QUICK)
    assert solution.status == "infeasible"
    assert solution.bound == {}
