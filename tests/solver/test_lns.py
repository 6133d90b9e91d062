"""The LNS of the scheduled goal (solver/lns.py): never worse, always valid, deterministic."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from solver import lns, solve
from solver.bounds_scheduled import MatchingBound, matching_bound
from solver.brute import brute_force
from solver.candidates import build_candidates
from solver.check import check, evaluate
from solver.explain import explain_unscheduled
from solver.greedy import greedy
from solver.lns import MATCHED_ONLY, MATCHED_ONLY_ALL, improve
from solver.problem import Location, Participant, Problem, Slot, Solution, SolveParameters, Wish
from solver.report import objective_key
from solver.solve import set_hint
from tests.solver.test_properties import WITH_SOLVER, problems

#: The module (`solver.solve` the attribute is the function of the same name).
solve_module = importlib.import_module("solver.solve")


def scheduled_only(problem: Problem) -> Problem:
    """The same event with the rules the LNS keeps and the scheduled goal alone, so that brute
    force gives the optimum of the weight."""
    return dataclasses.replace(
        problem, objective=("required", "scheduled"), max_break_difference=None, published=()
    )


def assert_keeps_every_rule(problem: Problem, start: Solution, schedule: lns._Schedule) -> None:
    """The LNS's working schedule, made an answer like `start`, passes the checker."""
    meetings = schedule.meetings()
    answer = dataclasses.replace(
        start,
        meetings=meetings,
        objective=evaluate(problem, meetings),
        unscheduled=list(explain_unscheduled(problem, meetings)),
    )
    report = check(problem, answer)
    assert report.ok, report.violations


def weight(solution: object) -> float:
    return solution.objective["scheduled_weight"]  # type: ignore[attr-defined, no-any-return]


@settings(WITH_SOLVER, max_examples=60)
@given(problems())
def test_lns_keeps_every_rule_never_loses_weight_and_stays_below_the_optimum(
    problem: Problem,
) -> None:
    problem = scheduled_only(problem)
    note(repr(problem))
    start = greedy(problem)
    if start.status != "feasible":
        return  # the LNS starts from a schedule that meets every required wish
    better, stats = improve(problem, build_candidates(problem), start, 0.05, deterministic=True)
    report = check(problem, better)
    assert report.ok, report.violations
    assert weight(better) >= weight(start)
    assert weight(better) == stats.weight or better is start
    assert weight(better) <= weight(brute_force(problem))


def two_slot_event() -> Problem:
    """c can only meet in s1; the first come, first served order gives s1 to a and b."""
    return Problem(
        event="lns",
        slots=(Slot("s1", "am", "2026-05-12"), Slot("s2", "am", "2026-05-12")),
        locations=(Location("t1"), Location("t2")),
        participants=(
            Participant("a", "oa"),
            Participant("b", "ob"),
            Participant("c", "oc", unavailable=frozenset({"s2"})),
        ),
        wishes=(Wish("ab", "a", "b", priority=2), Wish("ac", "a", "c", priority=1)),
        objective=("required", "scheduled"),
    )


def test_lns_moves_a_meeting_to_make_room_for_a_heavier_one() -> None:
    problem = two_slot_event()
    start = greedy(problem)
    assert weight(start) == 2  # a-b in s1 blocks a-c
    better, stats = improve(problem, build_candidates(problem), start, 1.0, deterministic=True)
    assert check(problem, better).ok
    assert weight(better) == 5
    assert {(m.participants, m.slot) for m in better.meetings} == {
        (("a", "b"), "s2"),
        (("a", "c"), "s1"),
    }
    assert stats.improved >= 1


def test_lns_stops_at_the_bound() -> None:
    problem = two_slot_event()
    _, stats = improve(
        problem, build_candidates(problem), greedy(problem), 10.0, deterministic=True, bound=5
    )
    assert stats.weight == 5
    assert stats.steps <= 3


def test_lns_leaves_events_with_a_break_cap_alone() -> None:
    problem = dataclasses.replace(two_slot_event(), max_break_difference=1)
    start = greedy(problem)
    better, stats = improve(problem, build_candidates(problem), start, 1.0, deterministic=True)
    assert better is start
    assert stats.steps == 0


def test_lns_never_moves_meetings_of_ordered_wishes() -> None:
    # `after` rules are not in the sub-model: a-b and a-c keep their places (and the order).
    problem = dataclasses.replace(
        two_slot_event(),
        wishes=(
            Wish("ab", "a", "b", priority=2),
            Wish("ac", "a", "c", priority=1, after=("ab",)),
        ),
    )
    start = greedy(problem)
    better, _ = improve(problem, build_candidates(problem), start, 0.5, deterministic=True)
    assert check(problem, better).ok
    assert better is start


def test_deterministic_lns_gives_the_same_schedule_twice() -> None:
    problem = scheduled_only(
        Problem(
            event="lns-det",
            slots=tuple(Slot(f"s{i}", "am", "2026-05-12") for i in range(4)),
            locations=(Location("t1", capacity=3),),
            participants=tuple(Participant(f"p{i}", f"o{i}") for i in range(8)),
            wishes=tuple(
                Wish(f"w{i}{j}", f"p{i}", f"p{j}", priority=1 + (i + j) % 3)
                for i in range(8)
                for j in range(8)
                if i < j and (i * j) % 3 != 1
            ),
        )
    )
    candidates = build_candidates(problem)
    runs = [
        improve(problem, candidates, greedy(problem), 0.5, deterministic=True, seed=3)[0]
        for _ in range(2)
    ]
    assert runs[0].meetings == runs[1].meetings
    assert check(problem, runs[0]).ok


def many_pairs_event() -> Problem:
    """Eight people, four slots, one table short: room for the LNS to move meetings around."""
    return scheduled_only(
        Problem(
            event="lns-pairs",
            slots=tuple(Slot(f"s{i}", "am", "2026-05-12") for i in range(4)),
            locations=(Location("t1", capacity=3),),
            participants=tuple(
                Participant(f"p{i}", f"o{i}", unavailable=frozenset({f"s{i % 4}"}))
                for i in range(8)
            ),
            wishes=tuple(
                Wish(f"w{i}{j}", f"p{i}", f"p{j}", priority=1 + (i + j) % 3)
                for i in range(8)
                for j in range(8)
                if i < j and (i * j) % 3 != 1
            ),
        )
    )


@settings(WITH_SOLVER, max_examples=30)
@given(problems(max_participants=6, max_wishes=10))
@example(many_pairs_event())
def test_two_sub_models_built_side_by_side_never_share_a_participant(problem: Problem) -> None:
    """The second of two sub-models solved at the same time leaves fixed every meeting of a
    participant the first touches; both answers kept one after the other keep every rule."""
    problem = scheduled_only(problem)
    note(repr(problem))
    start = greedy(problem)
    if start.status != "feasible" or len(problem.participants) < 2:
        return
    candidates = build_candidates(problem)
    schedule = lns._Schedule(problem, candidates, start)
    people = [p.id for p in problem.participants]
    first = lns._build(schedule, set(people[: len(people) // 2 + 1]))
    if first is None:
        return
    second = lns._build(schedule, set(people[len(people) // 2 :]), exclude=first.touched)
    subs = [first] + ([second] if second is not None else [])
    if second is not None:
        assert second.touched.isdisjoint(first.touched)
    outcomes = [sub.solve(1.0, seed, deterministic=True) for seed, sub in enumerate(subs)]
    before = schedule.total_weight()
    kept = [sub.keep(outcome) for sub, outcome in zip(subs, outcomes, strict=True)]
    gained = sum(o.gain for o, k in zip(outcomes, kept, strict=True) if k)
    assert schedule.total_weight() == before + gained >= before
    assert_keeps_every_rule(problem, start, schedule)


@settings(WITH_SOLVER, max_examples=20)
@given(problems(max_participants=6, max_wishes=10))
@example(many_pairs_event())
def test_lns_with_two_threads_keeps_every_rule_and_never_loses_weight(problem: Problem) -> None:
    """Outside deterministic mode each of two threads builds, solves and keeps its own
    sub-models (`_WeightLoop.side_by_side`). A schedule the checker rejects would be dropped
    for the start, which the last assertion sees: the loop's own count of the weight would
    then differ from the answer's."""
    problem = scheduled_only(problem)
    note(repr(problem))
    start = greedy(problem)
    if start.status != "feasible":
        return
    better, stats = improve(problem, build_candidates(problem), start, 0.2, workers=2, seed=1)
    assert check(problem, better).ok
    assert weight(better) >= weight(start)
    if len(problem.wishes) <= 8:  # brute force takes minutes on the explicit example
        assert weight(better) <= weight(brute_force(problem))
    assert stats.steps > 0 or (not start.meetings and not problem.wishes)
    assert weight(better) == stats.weight


@settings(WITH_SOLVER, max_examples=30)
@given(problems(max_participants=6, max_wishes=10))
@example(many_pairs_event())
def test_a_sub_model_within_the_matching_frees_only_its_meetings_and_held_ones(
    problem: Problem,
) -> None:
    """`_build(..., within=chosen)` leaves every candidate meeting outside the relaxation's
    matching out of the sub-model unless it is held now; its answer keeps every rule and
    the weight, and is never heavier than the one with every meeting free."""
    problem = scheduled_only(problem)
    note(repr(problem))
    start = greedy(problem)
    if start.status != "feasible":
        return
    candidates = build_candidates(problem)
    chosen = matching_bound(problem, candidates, 1.0, workers=1, deterministic=True).chosen
    schedule = lns._Schedule(problem, candidates, start)
    group = {p.id for p in problem.participants}
    sub = lns._build(schedule, group, within=chosen)
    if sub is None:
        return
    free = {m for m, _ in sub.at}
    assert free <= chosen | set(schedule.placed)
    full = lns._build(schedule, group)
    assert full is not None
    assert free <= {m for m, _ in full.at}
    best_full = full.solve(2.0, 0, deterministic=True)
    before = schedule.total_weight()
    outcome = sub.solve(2.0, 0, deterministic=True)
    if best_full.optimal and outcome.optimal:
        assert outcome.gain <= best_full.gain
    sub.keep(outcome)
    assert schedule.total_weight() >= before
    assert_keeps_every_rule(problem, start, schedule)


@settings(WITH_SOLVER, max_examples=20)
@given(problems(max_participants=6, max_wishes=10), st.sampled_from([MATCHED_ONLY, 1.0]))
@example(many_pairs_event(), MATCHED_ONLY)
@example(many_pairs_event(), 1.0)
def test_two_threads_steered_by_the_matching_keep_every_rule_and_stay_below_its_bound(
    problem: Problem, share: float
) -> None:
    """With the relaxation's matching given, a share of the two threads' sub-models (half, or
    all on the largest events) free only its meetings and the held ones (`MATCHED_ONLY`); the
    answer keeps every rule, never loses weight and never passes the bound."""
    problem = scheduled_only(problem)
    note(repr(problem))
    start = greedy(problem)
    if start.status != "feasible":
        return
    candidates = build_candidates(problem)
    bound = matching_bound(problem, candidates, 1.0, workers=1, deterministic=True)
    better, stats = improve(
        problem,
        candidates,
        start,
        0.2,
        workers=2,
        seed=1,
        bound=bound.bound,
        chosen=bound.chosen,
        matched_only=share,
    )
    assert check(problem, better).ok
    assert weight(start) <= weight(better) == stats.weight <= bound.bound


def one_slot_replan() -> Problem:
    """The smallest re-plan on which the property below failed (a hypothesis example shrunk by
    hand): one slot, so nobody can have a break and the breaks goal is the constant 0; the
    meeting of a and b was published."""
    problem = Problem(
        event="replan",
        slots=(Slot("s1", "am", "day1"),),
        locations=(Location("l1"),),
        participants=(Participant("a", "oa"), Participant("b", "ob")),
        wishes=(Wish("w1", "a", "b"),),
        objective=("required", "scheduled", "breaks"),
    )
    return dataclasses.replace(problem, published=tuple(greedy(problem).meetings))


@settings(WITH_SOLVER, max_examples=40)
@given(problems())
@example(one_slot_replan())
def test_solve_with_the_lns_first_still_reaches_the_brute_force_optimum(problem: Problem) -> None:
    note(repr(problem))
    best = brute_force(problem)
    with pytest.MonkeyPatch.context() as patch:
        # Small events take the large-event path: the LNS before the full model.
        patch.setattr(solve_module, "LNS_MODEL", 0)
        found = solve(
            problem, SolveParameters(time_limit_seconds=20, deterministic=True, workers=1)
        )
    report = check(problem, found)
    assert report.ok, report.violations
    assert found.status == best.status
    if best.status == "optimal":
        achieved = evaluate(problem, found.meetings)
        assert objective_key(problem, achieved) == objective_key(problem, best.objective)


def test_on_the_largest_events_the_lns_schedule_is_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(solve_module, "LNS_MODEL", 0)
    monkeypatch.setattr(solve_module, "LNS_ONLY_MODEL", 0)
    problem = dataclasses.replace(two_slot_event(), objective=("required", "scheduled", "breaks"))
    found = solve(problem, SolveParameters(time_limit_seconds=5, deterministic=True, workers=1))
    assert check(problem, found).ok
    assert found.status == "feasible"  # the later goals are measured, not optimised
    assert found.objective["scheduled_weight"] == 5
    assert found.bound == {"scheduled_weight": 5}


@pytest.mark.parametrize(("only_lns", "share"), [(True, MATCHED_ONLY_ALL), (False, MATCHED_ONLY)])
def test_every_sub_model_stays_within_the_matching_only_where_the_lns_schedule_is_the_answer(
    monkeypatch: pytest.MonkeyPatch, only_lns: bool, share: float
) -> None:
    """The share of sub-models held within the matching is all of them on the largest events
    and half below, where the full model follows the LNS (benchmarks/README.md)."""
    shares: list[float] = []
    real = solve_module.improve_by_lns

    def recording(*args: object, **kwargs: object) -> object:
        shares.append(kwargs["matched_only"])  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(solve_module, "improve_by_lns", recording)
    monkeypatch.setattr(solve_module, "LNS_MODEL", 0)
    monkeypatch.setattr(solve_module, "LNS_ONLY_MODEL", 0 if only_lns else 10**9)
    problem = dataclasses.replace(two_slot_event(), objective=("required", "scheduled", "breaks"))
    found = solve(problem, SolveParameters(time_limit_seconds=5, deterministic=True, workers=1))
    assert check(problem, found).ok
    assert shares == [share]


@pytest.mark.parametrize(
    ("weight", "only_lns", "share"),
    [
        (30_928, True, MATCHED_ONLY_ALL),  # partnering-fair on a quiet machine: 0.07 % below
        (30_799, True, MATCHED_ONLY_ALL),  # just within 0.5 % of the bound
        (28_761, True, MATCHED_ONLY),  # the 7 % weaker matching of a loaded machine
        (0, True, MATCHED_ONLY),  # no matching found
        (30_951, False, MATCHED_ONLY),  # the full model follows the LNS
    ],
)
def test_every_sub_model_is_held_to_the_matching_only_when_it_is_close_to_its_bound(
    weight: int, only_lns: bool, share: float
) -> None:
    bound = MatchingBound(30_951, frozenset({1, 2}), False, weight)
    assert solve_module.matched_share(bound, only_lns) == share


def test_replan_with_a_constant_goal_reaches_the_brute_force_optimum() -> None:
    # The re-plan start bounds each goal by the published schedule's value in a clone of the
    # model; `0 <= 0` there adds a constant variable, so the published solution has one value
    # more than the model has variables. Hinting all of them made the model invalid and the
    # solve raised "invalid CP-SAT model: Invalid variable in solution hint".
    problem = one_slot_replan()
    assert len(problem.published) == 1
    found = solve(problem, SolveParameters(time_limit_seconds=20, deterministic=True, workers=1))
    assert check(problem, found).ok
    assert found.status == "optimal"
    best = brute_force(problem)
    achieved = evaluate(problem, found.meetings)
    assert objective_key(problem, achieved) == objective_key(problem, best.objective)
    assert found.moves == []
    assert {(m.participants, m.slot) for m in found.meetings} == {(("a", "b"), "s1")}


def test_a_hint_from_a_clone_with_extra_constant_variables_is_valid_for_the_model() -> None:
    model = cp_model.CpModel()
    x = model.new_bool_var("x")
    model.add(x == 1)
    step = model.clone()
    step.add(sum([]) <= 0)  # a constant constraint: the clone gets a constant variable
    assert len(step.proto.variables) > len(model.proto.variables)
    solver = cp_model.CpSolver()
    assert solver.solve(step) == cp_model.OPTIMAL
    set_hint(model, list(solver.response_proto.solution))
    assert model.validate() == ""
    assert list(model.proto.solution_hint.vars) == [0]


def breaks_of(problem: Problem, solution: object) -> float:
    return evaluate(problem, solution.meetings)["breaks"]  # type: ignore[attr-defined, no-any-return]


def test_the_polish_turn_closes_a_break_without_losing_weight() -> None:
    # a meets b and c with a free slot between them: the weight cannot grow, the breaks can
    # fall to none by moving one meeting next to the other.
    problem = Problem(
        event="polish",
        slots=tuple(Slot(f"s{i}", "am", "2026-05-12") for i in range(1, 4)),
        locations=(Location("t1"), Location("t2")),
        participants=(Participant("a", "oa"), Participant("b", "ob"), Participant("c", "oc")),
        wishes=(Wish("ab", "a", "b"), Wish("ac", "a", "c")),
        objective=("required", "scheduled", "breaks"),
    )
    # The start: b and c cannot meet in s2 while it is built, so a holds a break.
    busy_s2 = frozenset({"s2"})
    start = greedy(
        dataclasses.replace(
            problem,
            participants=(
                Participant("a", "oa"),
                Participant("b", "ob", unavailable=busy_s2),
                Participant("c", "oc", unavailable=busy_s2),
            ),
        )
    )
    assert breaks_of(problem, start) == 1
    candidates = build_candidates(problem)
    unpolished, _ = improve(problem, candidates, start, 1.0, deterministic=True)
    assert breaks_of(problem, unpolished) == 1  # the weight loop alone leaves it
    better, stats = improve(problem, candidates, start, 1.0, deterministic=True, polish=1.0)
    assert check(problem, better).ok
    assert weight(better) == weight(start)
    assert breaks_of(problem, better) == 0
    assert (stats.breaks_before, stats.breaks_after) == (1, 0)


def test_the_polish_turn_gives_a_meeting_to_someone_without_one() -> None:
    # b meets once at most: a-b or c-b weigh the same, but with a-b c holds no meeting while a
    # has a-d as well. Fairness comes first after the weight, so b meets c.
    problem = Problem(
        event="polish-fair",
        slots=(Slot("s1", "am", "2026-05-12"), Slot("s2", "am", "2026-05-12")),
        locations=(Location("t1"), Location("t2")),
        participants=(
            Participant("a", "oa"),
            Participant("b", "ob", max_meetings=1),
            Participant("c", "oc"),
            Participant("d", "od"),
        ),
        wishes=(Wish("ab", "a", "b"), Wish("ad", "a", "d"), Wish("cb", "c", "b")),
        objective=("required", "scheduled", "fairness", "breaks"),
    )
    start = greedy(dataclasses.replace(problem, wishes=problem.wishes[:2]))
    assert {m.participants for m in start.meetings} == {("a", "b"), ("a", "d")}
    better, stats = improve(
        problem, build_candidates(problem), start, 1.0, deterministic=True, polish=1.0
    )
    assert check(problem, better).ok
    assert weight(better) == weight(start)
    assert {frozenset(m.participants) for m in better.meetings} == {
        frozenset({"a", "d"}),
        frozenset({"b", "c"}),
    }
    assert (stats.idle_before, stats.idle_after) == (1, 0)
