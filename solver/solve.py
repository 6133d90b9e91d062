"""`solve(problem, params) -> Solution`: the lexicographic CP-SAT solve.

Goals are optimised one after the other in the problem's order. After each goal its value is
fixed (equal to the proven optimum, or at least as good as the best value found when time ran
out) and the next goal starts from the previous schedule as a hint. The time limit is shared:
each goal gets a slice of what is left, and what a goal does not use passes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from solver.bounds_scheduled import MatchingBound
from solver.candidates import build_candidates
from solver.large import head_start
from solver.lns import MATCHED_ONLY, MATCHED_ONLY_ALL
from solver.lns import improve as improve_by_lns
from solver.model import TimetableModel, add_goal, build_model, published_candidate, wishes_of
from solver.problem import (
    Conflict,
    Meeting,
    Problem,
    Progress,
    Solution,
    SolveParameters,
    SolveStatus,
    Unscheduled,
    wish_weights,
)
from solver.replan import as_solution, filled, kept_published
from solver.report import measure_objective, moves_against_published, objective_key
from solver.retime import fixed_meeting_set, retime_model
from solver.tables import placed_meetings

#: Above this many (meeting, slot) variables, presolve is kept short.
LARGE_MODEL = 20_000

#: Share of the `scheduled` goal's time for the restricted placement of the relaxation's
#: matching (`_place_chosen`); the full search gets what it leaves.
PLACEMENT_SHARE = 0.8

#: Share of the time limit spent on the timeless bound of the scheduled goal, and its cap in
#: seconds: at partnering-fair size the bound and the matching stop moving after 10-15 s of
#: the 30 s the share gave, which the LNS uses better (benchmarks/README.md, "Scale").
HEAD_START_SHARE = 0.1
HEAD_START_SECONDS = 15.0

#: From this many (meeting, slot) pairs, the scheduled goal starts with our own LNS
#: (solver/lns.py) around the first schedule, until this share of the time limit is used.
LNS_MODEL = 2_000
LNS_END = 0.7
#: Above this many pairs the LNS takes the whole time and its schedule is the answer: at
#: trade-fair size the full model's steps after the LNS found nothing better in the time left
#: and ran 13 s past the limit; at partnering-fair size the model alone takes a minute to build
#: (benchmarks/README.md, "Scale").
LNS_ONLY_MODEL = LARGE_MODEL
#: What the LNS leaves is for checking and explaining its schedule: 0.1 s at trade-fair size,
#: 1.2 s at partnering-fair size since the reasons look up locations by kind (6 Dec 2026).
LNS_END_HUGE = 0.96
#: Share of that LNS time kept for the goals after `scheduled` (fairness, breaks), which the
#: full model would optimise and which would otherwise only be measured (solver/lns.py), and
#: its cap in seconds: on the largest events the met-wish weight, ranked first, still grows
#: when the turn starts, and a longer turn costs more of it than the breaks it saves are
#: worth (benchmarks/README.md, "Fairness and breaks get their turn").
LNS_POLISH = 0.15
LNS_POLISH_SECONDS = 12.0
#: On those events every LNS sub-model stays within the relaxation's matching only when the
#: matching meets at least this share of its bound: a weak one (on a loaded machine the 15 s
#: gave a matching 7 % below the bound at partnering-fair size, against 0.07-0.11 % on a
#: quiet one) would hold every sub-model to it (benchmarks/README.md, "Every sub-model within the
#: matching").
MATCHING_CLOSE = 0.995

#: Share of the breaks goal's time for the first question of the climb when the full model and
#: the compact re-timing model race on it (the easy instances are answered within it).
FIRST_QUESTION_SHARE = 0.15

#: CP-SAT statuses that answer a question (the others: out of time, stopped).
ANSWERED = (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE)

#: Schedule-format key under which each goal's value and bound are reported.
GOAL_KEY = {
    "required": "required",
    "scheduled": "scheduled_weight",
    "fairness": "min_share",
    "breaks": "breaks",
    "stability": "moved",
}


def solve(problem: Problem, params: SolveParameters | None = None) -> Solution:
    params = params or SolveParameters()
    clock = _Clock(params.time_limit_seconds)
    candidates = build_candidates(problem)
    goals = [g for g in problem.objective if g != "required"]
    head = None
    start: Solution | None = None
    lns_work = 0.0
    if not problem.published and "scheduled" in goals:
        head = head_start(
            problem,
            candidates,
            _head_start_time(params),
            params.workers,
            params.random_seed,
            params.deterministic,
        )
        start = head.start
        size = sum(len(m.slots) for m in candidates.meetings)
        if size >= LNS_MODEL:
            # Before the full model is built: on the largest events building it takes a
            # minute (benchmarks/README.md, "Scale"), which the LNS uses better.
            only_lns = size > LNS_ONLY_MODEL and start.status == "feasible"
            share = LNS_END_HUGE if only_lns else LNS_END
            lns_time = _lns_time(params, clock, share)
            polish = min(LNS_POLISH, LNS_POLISH_SECONDS / lns_time) if lns_time > 0 else 0.0
            start, lns = improve_by_lns(
                problem,
                candidates,
                head.start,
                lns_time,
                params.workers,
                params.random_seed,
                params.deterministic,
                head.bound.bound,
                head.bound.chosen,
                polish=polish if only_lns else 0.0,
                matched_only=matched_share(head.bound, only_lns),
            )
            lns_work = lns.work
            if only_lns:
                return _lns_answer(problem, start, head.bound.bound, clock)
    tm = build_model(problem, candidates)
    for goal in goals:
        add_goal(tm, goal)
    baseline = None
    kept: Solution | None = None
    if problem.published:
        # A re-plan starts from the published meetings that can still be held.
        kept = as_solution(problem, filled(problem, kept_published(problem)))
        baseline = hint_greedy_schedule(tm, kept)
    if head is not None:
        if start is None:  # set together with `head`
            raise AssertionError("start is not None")
        baseline = hint_greedy_schedule(tm, start)
        # Implied by every timetable; lets CP-SAT stop as optimal when it reaches the bound.
        tm.model.add(tm.goals["scheduled"][0] <= head.bound.bound)

    run = _LexicographicRun(tm, params, clock, baseline)
    if head is not None:
        run.scheduled_bound, run.chosen = head.bound.bound, head.bound.chosen
        run.work_done += lns_work
    if kept is not None and baseline is not None:
        run.start_from_published(kept.meetings, goals_above_stability(problem.objective))
    for position, goal in enumerate(goals or ["required"]):
        if not run.optimise(goal, goals_left=len(goals) - position):
            break
    answer = run.solution()
    if kept is not None:
        answer = no_worse_than_published(problem, answer, kept)
    return answer


def no_worse_than_published(problem: Problem, answer: Solution, kept: Solution) -> Solution:
    """A re-plan's answer, or the published meetings that can still be held when the search
    ended with nothing better in the event's goal order (time ran out on a busy machine,
    or the search found only schedules that move meetings for no gain). Ties go to the kept
    schedule: it moves nothing. So a re-plan of an unchanged event answers the published
    meetings whatever the time limit, and never one that is worse on any goal."""
    from solver.check import check

    if answer.status == "infeasible" or check(problem, kept).violations:
        return answer
    kept_key = objective_key(problem, kept.objective)
    found = answer.meetings or answer.status in ("optimal", "feasible")
    if found and objective_key(problem, answer.objective) > kept_key:
        return answer
    status: SolveStatus = "optimal" if answer.status == "optimal" else "feasible"
    met = {w for m in kept.meetings for w in m.wishes}
    return Solution(
        status=status,
        objective=dict(kept.objective),
        bound=dict(answer.bound),
        solve_seconds=answer.solve_seconds,
        meetings=list(kept.meetings),
        unscheduled=explain(problem, list(kept.meetings), met),
        moves=moves_against_published(problem, list(kept.meetings)),
        cancelled=answer.cancelled,
    )


def matched_share(bound: MatchingBound, only_lns: bool) -> float:
    """Share of the LNS's two-thread sub-models held within the relaxation's matching
    (`solver.lns.MATCHED_ONLY`): all of them where the LNS schedule is the answer and the
    matching is close to its bound, half otherwise."""
    if only_lns and bound.weight >= MATCHING_CLOSE * bound.bound:
        return MATCHED_ONLY_ALL
    return MATCHED_ONLY


def goals_above_stability(objective: tuple[str, ...]) -> tuple[str, ...]:
    """The goals a re-plan may not make worse than the published schedule: those ranked above
    `stability` (all of them when the order leaves stability out)."""
    goals = tuple(g for g in objective if g != "required")
    if "stability" not in goals:
        return goals
    return goals[: goals.index("stability")]


def _lns_time(params: SolveParameters, clock: _Clock, share: float) -> float:
    """Time for the LNS so that it ends at `share` of the time limit. In deterministic mode
    the bound's deterministic time limit stands for the time used so far."""
    limit = params.time_limit_seconds
    used = _head_start_time(params) if params.deterministic else clock.elapsed()
    return max(share * limit - used, 0.0)


def _head_start_time(params: SolveParameters) -> float:
    """Time limit of the timeless bound (`solver/large.py`)."""
    return min(HEAD_START_SHARE * params.time_limit_seconds, HEAD_START_SECONDS)


def _lns_answer(problem: Problem, start: Solution, bound: int, clock: _Clock) -> Solution:
    """The LNS schedule as the answer, with the proven bound of the scheduled goal only (the
    goals after it are measured, not optimised)."""
    return Solution(
        status="feasible",
        objective=measure_objective(problem, start.meetings),
        bound={"scheduled_weight": bound},
        solve_seconds=round(clock.elapsed(), 3),
        meetings=list(start.meetings),
        # Explained already (the head start and the LNS give checked schedules).
        unscheduled=list(start.unscheduled),
        moves=moves_against_published(problem, start.meetings),
    )


class _Clock:
    def __init__(self, limit: float) -> None:
        self.started = time.monotonic()
        self.limit = max(limit, 0.01)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return max(self.limit - self.elapsed(), 0.0)


class _LexicographicRun:
    """State of one lexicographic solve: the best schedule so far and what is proven."""

    def __init__(
        self,
        tm: TimetableModel,
        params: SolveParameters,
        clock: _Clock,
        baseline: list[Meeting] | None = None,
    ) -> None:
        self.tm = tm
        #: A valid first-come-first-served schedule, returned if CP-SAT finds none in time.
        self.baseline = baseline
        self.params = params
        self.clock = clock
        self.values: list[int] | None = None
        self.bound: dict[str, float] = {}
        self.all_proven = True
        self.infeasible = False
        self.cancelled = False
        #: CP-SAT deterministic time used so far.
        self.work_done = 0.0
        #: Proven bound on scheduled_weight from the timeless relaxation, if computed.
        self.scheduled_bound: int | None = None
        #: Candidate meetings the relaxation chose: placed first (`_place_chosen`).
        self.chosen: frozenset[int] = frozenset()
        #: When every meeting must be held: those meetings, for the re-timing climb.
        self.fixed_meetings = fixed_meeting_set(tm.problem, tm.candidates)
        #: A re-plan: the kept published schedule as a complete assignment, while no goal
        #: optimised so far found better than it (see `start_from_published`).
        self.published_values: list[int] | None = None
        self.published_measure: dict[str, float] = {}
        self.published_levels: dict[str, int] = {}
        self.past_stability = False

    def start_from_published(self, kept: list[Meeting], above: tuple[str, ...]) -> None:
        """Make the published meetings that can still be held the first solution, and never
        let a goal in `above` (those ranked above `stability`) end worse than they make it
        while every goal before it is no better than they make it (lexicographic order).

        The kept schedule is completed in the model (every auxiliary variable set, its goal
        values tight) with those meetings fixed; only when that succeeds are the bounds
        added, so they never make the model infeasible.
        """
        tm = self.tm
        measured = measure_objective(tm.problem, kept)
        levels = {g: self._level(g, kept, measured) for g in tm.goals if g != "stability"}
        step = tm.model.clone()
        step.clear_objective()
        for goal, level in levels.items():
            if level is not None:
                expression, sense = tm.goals[goal]
                step.add(expression >= level if sense > 0 else expression <= level)
        solver = self._solver(max(0.2 * self.clock.limit, 1.0), search_only=True)
        solver.parameters.fix_variables_to_their_hinted_value = True
        status = self._run(solver, step)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return  # the partial hint stays; the search starts from it as best it can
        self.values = list(solver.response_proto.solution)
        self.published_values = list(self.values)
        self.published_measure = measured
        # Each bound is added when its goal's stage starts, and only while the published
        # schedule is as good as the search on every goal before it: once a goal is improved,
        # the later ones are free to trade (lexicographic order).
        for goal in above:
            level = levels.get(goal)
            if level is not None:
                self.published_levels[goal] = level

    def _keep_unimproved(self, goal: str, expression: cp_model.LinearExprT, sense: int) -> bool:
        """A re-plan whose search for `goal` found nothing in its time (on a busy machine
        presolve alone can take it) goes on from the schedule it has, with the goal held at
        that schedule's value, so the goals after it (stability first) still get their turn.
        Other solves stop here, as they always have."""
        if not self.tm.problem.published or self.values is None or self.cancelled:
            return False
        meetings = extract_meetings(self.tm, self.values)
        level = self._level(goal, meetings, measure_objective(self.tm.problem, meetings))
        if level is None:
            return False
        model = self.tm.model
        model.add(expression >= level if sense > 0 else expression <= level)
        return True

    def _level(self, goal: str, kept: list[Meeting], measured: dict[str, float]) -> int | None:
        """The value of `goal`'s model expression for the meetings `kept`."""
        if goal == "stability":
            # As `published_meetings_moved` counts: kept when the pair meets in the same slot
            # for one of its wishes (the table does not matter).
            held = {(frozenset(m.participants), m.slot, w) for m in kept for w in m.wishes}
            return sum(
                not any((frozenset(old.participants), old.slot, w) in held for w in old.wishes)
                for old in self.tm.problem.published
            )
        if goal == "scheduled":
            return round(measured["scheduled_weight"])
        if goal == "breaks":
            return round(measured["breaks"])
        if goal == "fairness":
            met = {w for m in kept for w in m.wishes}
            scale = self.tm.fairness_scale
            mine = wishes_of(self.tm.problem).values()
            return min(
                (scale * sum(w in met for w in wishes) // len(wishes) for wishes in mine),
                default=scale,
            )
        return None

    def _prefer_published(self, goal: str) -> None:
        """After a goal above `stability`: when the published schedule is as good on it as
        what the search found, go on from the published schedule, so that nothing moves for
        no gain; once the search beat it, it is left behind."""
        if self.published_values is None or self.values is None or goal not in GOAL_KEY:
            return
        key = GOAL_KEY[goal]
        found = measure_objective(self.tm.problem, extract_meetings(self.tm, self.values))[key]
        published = self.published_measure[key]
        as_good = published <= found if goal == "breaks" else published >= found
        if as_good:
            self.values = list(self.published_values)
        else:
            self.published_values = None

    def optimise(self, goal: str, goals_left: int) -> bool:
        """Optimise one goal and fix it; False when the run must stop here."""
        level = self.published_levels.get(goal)
        if self.published_values is not None and level is not None:
            expression, sense = self.tm.goals[goal]
            self.tm.model.add(expression >= level if sense > 0 else expression <= level)
        go_on = self._optimise(goal, goals_left)
        if goal not in ("required", "stability") and not self.past_stability:
            self._prefer_published(goal)
        self.past_stability |= goal == "stability"
        return go_on

    def _optimise(self, goal: str, goals_left: int) -> bool:
        if self._cancel_requested():
            self.cancelled = True
            return False
        if goal == "breaks" and self.tm.breaks is not None and not self.params.relative_gap:
            settled = self._climb_from_lower_bound(goals_left)
            if settled is not None:
                return settled
        if goal == "scheduled" and self.values is None and self.baseline is not None:
            self._complete_hint(0.2 * self._budget(goals_left))
            if self.values is not None and self.chosen:
                # The restricted placement is where the bound is reached: at cluster size it
                # took 0.5-5.9 s (7 traced runs), while after a long LNS 0.4 of the goal's
                # share left it 4.9 s; the full search after it closes the gap only slowly
                # (benchmarks/README.md, "Scale"). It stops as soon as it reaches the bound.
                self._place_chosen(PLACEMENT_SHARE * self._budget(goals_left))
        model = self.tm.model
        expression, sense = self.tm.goals.get(goal, (0, -1))
        model.clear_objective()
        if goal != "required":
            (model.maximize if sense > 0 else model.minimize)(expression)
        if self.values is not None:
            set_hint(model, self.values)
        budget = self._budget(goals_left)
        # After a failed climb, breaks are minimised with the same LP-free search: on these
        # models it finds schedules where the LP workers find none (benchmarks/README.md).
        solver = self._solver(budget, search_only=goal == "breaks")
        scale = self.tm.fairness_scale if goal == "fairness" else 1
        callback = _ProgressReporter(goal, self.params, self.clock, scale, solver)
        status = self._run(solver, model, callback)
        self.cancelled = self._cancel_requested()
        if status == cp_model.INFEASIBLE:
            self.infeasible = self.values is None
            self.all_proven = False
            return False
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.all_proven = False
            if status == cp_model.MODEL_INVALID:
                raise RuntimeError(f"invalid CP-SAT model: {model.validate()}")
            return self._keep_unimproved(goal, expression, sense)
        self.values = list(solver.response_proto.solution)
        proven = status == cp_model.OPTIMAL
        if goal == "breaks" and "breaks" in self.bound:
            # Breaks at the climb's proven lower bound are optimal, whatever the search knew.
            proven |= round(solver.objective_value) <= self.bound["breaks"]
        self.all_proven &= proven
        if goal == "required":
            return not self.cancelled
        value = round(solver.objective_value)
        self.bound[GOAL_KEY[goal]] = self._tightened(goal, solver.best_objective_bound / scale)
        fix_goal(model, expression, sense, value, proven)
        return not self.cancelled

    def _run(
        self,
        solver: cp_model.CpSolver,
        model: cp_model.CpModel,
        callback: cp_model.CpSolverSolutionCallback | None = None,
    ) -> cp_model.CpSolverStatus:
        with _CancelWatcher(self.params.cancel, solver):
            status = solver.solve(model, callback)
        self.work_done += solver.deterministic_time
        return status

    def _spent(self) -> float:
        """Time used so far: in deterministic mode CP-SAT's deterministic time, so that the
        split of the time limit between goals, and thus the result, is the same every run."""
        return self.work_done if self.params.deterministic else self.clock.elapsed()

    def _place_chosen(self, budget: float) -> None:
        """Decomposition: the meetings the timeless relaxation chose (and the hinted ones) are
        placed in slots by a model with every other meeting left out — a fraction of the size,
        where CP-SAT closes most of the gap between the first schedule and the bound that the
        full model closes only slowly."""
        if self.values is None:
            raise AssertionError("self.values is not None")
        step = self.tm.model.clone()
        keep = set(self.chosen)
        keep.update(m for m, held in self.tm.held.items() if self.values[held.Index()])
        for m, held in self.tm.held.items():
            if m not in keep:
                step.add(held == 0)
        expression, _ = self.tm.goals["scheduled"]
        step.maximize(expression)
        set_hint(step, self.values)
        solver = self._solver(max(budget, 0.05))
        status = self._run(solver, step)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.values = list(solver.response_proto.solution)

    def _complete_hint(self, budget: float) -> None:
        """Turn the hinted meetings into a complete solution (later goals' variables too).

        CP-SAT does not always complete a partial hint on a large model with break and fairness
        variables: it then starts from scratch, far below the hint (measured on the cluster
        size of benchmarks/scale.py). With the meetings fixed, the rest is found at once.
        """
        step = self.tm.model.clone()
        step.clear_objective()
        solver = self._solver(max(budget, 0.05), search_only=True)
        solver.parameters.fix_variables_to_their_hinted_value = True
        status = self._run(solver, step)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.values = list(solver.response_proto.solution)

    def _has_any_schedule(self, budget: float) -> bool:
        """Whether the rules allow any schedule (then kept as the best so far). Asked once,
        when the first climbing step says no: that 'no' may be about the rules, not breaks."""
        solver = self._solver(budget, search_only=True)
        self.tm.model.clear_objective()
        status = self._run(solver, self.tm.model)
        if status == cp_model.INFEASIBLE:
            self.infeasible = True
            self.all_proven = False
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.values = list(solver.response_proto.solution)
            return True
        return False

    def _tightened(self, goal: str, bound: float) -> float:
        """CP-SAT's bound, cut to what the goal can reach at all (before search starts on a big
        model its bound is only the objective's domain)."""
        if goal == "scheduled":
            weight = wish_weights(self.tm.problem.wishes)
            weights = (weight[w.id] for w in self.tm.problem.wishes if self.tm.ways_to_meet(w.id))
            if self.scheduled_bound is not None:
                bound = min(bound, self.scheduled_bound)
            return min(bound, sum(weights))
        if goal == "fairness":
            return min(bound, 1.0)
        if goal == "breaks":
            # What the climb proved (its levels are constraints of the model, but CP-SAT's
            # bound at a time-out need not show them).
            return max(bound, self.bound.get("breaks", 0.0))
        return max(bound, 0.0)

    def _climb_from_lower_bound(self, goals_left: int) -> bool | None:
        """Breaks, from below: ask for a schedule with no more breaks than the proven lower
        bound; if there is none, the bound rises by one and we ask again. The first schedule
        found is optimal. Few breaks make a tightly constrained, quickly decided problem,
        where minimising from above wanders through poor schedules. Returns None (to fall
        back to plain minimisation) when a step runs out of its share of the time.
        """
        if self.tm.breaks is None:
            raise AssertionError("self.tm.breaks is not None")
        total = self.tm.breaks.total
        bound = self.tm.breaks.lower_bound
        if bound > 0:
            # Proven before the search (solver/bounds.py): kept when a step runs out of time,
            # so that minimising afterwards stops as soon as it reaches the bound.
            self.tm.model.add(total >= bound)
            self.bound["breaks"] = bound
        budget_end = self._spent() + self._budget(goals_left)
        # Every meeting must be held: the compact re-timing model answers the first question
        # in a thread beside the full model (solver/retime.py), and the climb goes on with it
        # alone (`_climb_by_retiming`). The full model answers the easy first questions
        # sooner; the compact one the later ones (benchmarks/README.md).
        racing = (
            self.fixed_meetings is not None
            and not self.params.deterministic
            and self.params.workers >= 2
        )
        while True:
            left = budget_end - self._spent()
            if left <= 0.05 or self._cancel_requested():
                return None
            if racing and bound > self.tm.breaks.lower_bound:
                return self._climb_by_retiming(bound, budget_end)
            step = self.tm.model.clone()
            step.clear_objective()
            step.add(total <= bound)
            if self.values is not None:
                set_hint(step, self.values)
            workers = self.params.workers // 2 if racing else None
            solver = self._solver(
                (FIRST_QUESTION_SHARE if racing else 0.6) * left, search_only=True, workers=workers
            )
            rival = _Retimer(self, bound, left, solver) if racing else None
            callback = _ProgressReporter("breaks", self.params, self.clock, 1, solver)
            status = self._run(solver, step, callback)
            #: The answer came from the re-timing model (which already checked the rules alone
            #: and, on "yes", set `self.values`).
            by_rival = False
            undecided = status not in (cp_model.INFEASIBLE, cp_model.OPTIMAL, cp_model.FEASIBLE)
            if (
                rival is not None
                and undecided
                and rival.searching()
                and not self._cancel_requested()
            ):
                # Neither answered in the first question's share: the re-timing climb asks it
                # again, and the next one beside it.
                rival.finish()
                return self._climb_by_retiming(bound, budget_end)
            if rival is not None:
                rival.finish()
                if status not in (cp_model.INFEASIBLE, cp_model.OPTIMAL, cp_model.FEASIBLE):
                    answer = self._retime_answer(rival, bound, left)
                    if answer is False and self.infeasible:
                        return False
                    if answer is not None:
                        status = cp_model.FEASIBLE if answer else cp_model.INFEASIBLE
                        by_rival = True
            if status == cp_model.INFEASIBLE:
                checked = by_rival or self.values is not None
                if not checked and not self._has_any_schedule(0.3 * left):
                    # Infeasible whatever the breaks, or no answer in time (then minimise).
                    return False if self.infeasible else None
                bound += 1
                self.tm.model.add(total >= bound)
                self.bound["breaks"] = bound
                continue
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.cancelled = self._cancel_requested()
                return False if self.cancelled and self.values is not None else None
            if not by_rival:
                self.values = list(solver.response_proto.solution)
            else:
                # The full model found nothing to report: say what the re-timing model found.
                self._report_breaks(bound, bound)
            self.bound["breaks"] = bound
            self.tm.model.add(total == bound)
            return True

    def _climb_by_retiming(self, bound: int, budget_end: float) -> bool | None:
        """The climb when every meeting must be held, on the compact re-timing model alone
        (solver/retime.py), two questions at a time, one worker each: "at most `bound`
        breaks?" and, speculatively, "at most `bound` + 1?". A "no" raises the proven bound
        past the question; a "yes" is a schedule, optimal once the bound reaches it. When
        only the lowest question is still open, both workers ask it with different seeds
        (its answer time varies a lot with the seed). The full model only completes the
        answer (`_complete_slots`). Until some schedule is known, the second worker looks for
        any in the full model instead: a schedule to fall back on, and a check that the
        rules allow one (a "no" could be about them, not breaks).

        On the B2B benchmark the climb's questions below the optimum are "no" in 0.3-4 s
        and the one at the optimum is the slow "yes" (up to 20 s): asking one rung ahead
        starts it seconds sooner, and a "yes" one rung up is a near-optimal schedule when
        time runs out (benchmarks/README.md). Returns None, for minimisation from above in
        the full model, when no schedule at the bound was found in time.
        """
        if self.tm.breaks is None or self.fixed_meetings is None:
            raise AssertionError("a re-timing climb needs breaks and a fixed meeting set")
        finished = threading.Event()
        rungs: list[_Rung] = []
        #: The fewest breaks found so far, and that schedule's slots.
        best: tuple[int, dict[int, int]] | None = None
        checking_rules = self.values is None
        # Kept for minimisation from above while no schedule has been found at all.
        reserve = 0.1 * max(budget_end - self._spent(), 0.0)
        seed = self.params.random_seed
        try:
            while best is None or best[0] > bound:
                left = budget_end - self._spent() - (reserve if best is None else 0.0)
                if left <= 0.05 or self._cancel_requested():
                    break
                wanted: list[int | None] = [bound, bound + 1]
                if checking_rules:
                    wanted = [bound, None]
                elif best is not None and best[0] <= bound + 1:
                    wanted = [bound, bound]
                for k in wanted:
                    if sum(r.bound == k for r in rungs) < wanted.count(k):
                        rungs.append(_Rung(self, k, left, seed, finished))
                        seed += 1
                finished.wait(0.1)
                finished.clear()
                for rung in [r for r in rungs if r.done()]:
                    rungs.remove(rung)
                    if rung.status not in ANSWERED:
                        return self._settle_climb(bound, best)  # out of time
                    if rung.bound is None:
                        if rung.values is None:
                            self.infeasible = True
                            self.all_proven = False
                            return False
                        self.values, checking_rules = rung.values, False
                    elif rung.slots:
                        if best is None or rung.bound < best[0]:
                            best = (rung.bound, rung.slots)
                    else:
                        bound = max(bound, rung.bound + 1)
                for rung in rungs:
                    pointless = rung.bound is not None and (
                        rung.bound < bound or (best is not None and rung.bound >= best[0])
                    )
                    if pointless:
                        rung.stop()
                rungs = [r for r in rungs if not r.done()]
        finally:
            for rung in rungs:
                rung.stop()
        return self._settle_climb(bound, best)

    def _settle_climb(self, bound: int, best: tuple[int, dict[int, int]] | None) -> bool | None:
        """Record what the re-timing climb proved and found: True when its schedule has the
        proven fewest breaks, None (minimise from above) otherwise."""
        if self.tm.breaks is None:
            raise AssertionError("self.tm.breaks is not None")
        total = self.tm.breaks.total
        self.tm.model.add(total >= bound)
        self.bound["breaks"] = bound
        if best is None or not self._complete_slots(best[0], best[1]):
            return None
        self._report_breaks(best[0], bound)
        if best[0] > bound:
            self.tm.model.add(total <= best[0])
            return None
        self.tm.model.add(total == bound)
        return True

    def _complete_slots(
        self, breaks: int, slots: dict[int, int], budget: float | None = None
    ) -> bool:
        """Complete the re-timing model's slots (a schedule with at most `breaks` breaks)
        into the full model (`self.values`)."""
        if self.tm.breaks is None:
            raise AssertionError("self.tm.breaks is not None")
        step = self.tm.model.clone()
        step.clear_objective()
        step.add(self.tm.breaks.total <= breaks)
        step.clear_hints()
        for (m, t), literal in self.tm.at.items():
            step.add_hint(literal, slots.get(m) == t)
        if budget is None:
            budget = 1.0 + 0.05 * self.clock.limit
        completion = self._solver(budget, search_only=True)
        completion.parameters.fix_variables_to_their_hinted_value = True
        status = self._run(completion, step)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return False
        self.values = list(completion.response_proto.solution)
        return True

    def _report_breaks(self, breaks: int, bound: int) -> None:
        if self.params.on_progress is None:
            return
        now = self.clock.elapsed()
        self.params.on_progress(
            Progress(
                goal="breaks",
                objective=float(breaks),
                bound=float(bound),
                elapsed_seconds=now,
                time_share=min(now / self.clock.limit, 1.0),
            )
        )

    def _retime_answer(self, rival: _Retimer, bound: int, left: float) -> bool | None:
        """What the re-timing model decided: True when its schedule (at most `bound` breaks)
        was completed in the full model (now `self.values`), False when there is none (a
        proof: the compact model is a relaxation of the full one), None when undecided."""
        if self.tm.breaks is None:
            raise AssertionError("self.tm.breaks is not None")
        if rival.status == cp_model.INFEASIBLE:
            if self.values is None and not self._retime_rules_allow(0.3 * left):
                self.infeasible = True
                self.all_proven = False
            return False
        if not rival.slots or not self._complete_slots(bound, rival.slots, max(0.1 * left, 1.0)):
            return None
        return True

    def _retime_rules_allow(self, budget: float) -> bool:
        """Whether the compact model has any schedule at all, whatever the breaks."""
        if self.fixed_meetings is None:
            raise AssertionError("self.fixed_meetings is not None")
        problem = self.tm.problem
        unlimited = len(problem.slots) * len(problem.participants)
        question = retime_model(
            problem, self.fixed_meetings, self.tm.candidates.capacity, unlimited, None
        )
        status = self._run(self._solver(budget), question.model)
        return status != cp_model.INFEASIBLE

    def slots_of(self, values: list[int] | None) -> dict[int, int] | None:
        if values is None:
            return None
        return {m: t for (m, t), literal in self.tm.at.items() if values[literal.Index()]}

    def _budget(self, goals_left: int) -> float:
        """Later goals start from a good hint and usually need less: give this goal 1.5x its
        equal share of what is left."""
        remaining = max(self.clock.limit - self._spent(), 0.0)
        if goals_left <= 1:
            return max(remaining, 0.01)
        return max(min(remaining, 1.5 * remaining / goals_left), 0.01)

    def _solver(
        self, budget: float, search_only: bool = False, workers: int | None = None
    ) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        parameters = solver.parameters
        parameters.max_time_in_seconds = budget
        parameters.random_seed = self.params.random_seed
        parameters.relative_gap_limit = self.params.relative_gap
        if self.params.deterministic:
            # One worker with a fixed seed and a deterministic time limit: the same input
            # gives the same output, whatever the machine's load.
            parameters.num_workers = 1
            parameters.max_deterministic_time = budget
        else:
            parameters.num_workers = max(workers or self.params.workers, 1)
        if search_only:
            search_without_lp(parameters)
        if len(self.tm.at) > LARGE_MODEL:
            # Probing and symmetry detection on a model this size take longer than they save:
            # search sooner (from the greedy hint).
            parameters.cp_model_probing_level = 0
            parameters.max_presolve_iterations = 1
            parameters.symmetry_level = 0
        return solver

    def _cancel_requested(self) -> bool:
        return self.params.cancel is not None and self.params.cancel.is_set()

    def solution(self) -> Solution:
        tm, problem = self.tm, self.tm.problem
        if self.values is not None:
            meetings = extract_meetings(tm, self.values)
        elif self.baseline is not None and not self.infeasible:
            meetings, self.all_proven = self.baseline, False
            # Only a bound proven before the search (the timeless one) holds for this schedule.
            self.bound = {}
        else:
            return self._without_schedule()
        status: SolveStatus = "optimal" if self.all_proven and not self.cancelled else "feasible"
        self._keep_scheduled_bound()
        met = {w for m in meetings for w in m.wishes}
        return Solution(
            status=status,
            objective=measure_objective(problem, meetings),
            bound=dict(self.bound),
            solve_seconds=round(self.clock.elapsed(), 3),
            meetings=meetings,
            unscheduled=explain(problem, meetings, met),
            moves=moves_against_published(problem, meetings),
            cancelled=self.cancelled,
        )

    def _keep_scheduled_bound(self) -> None:
        """The timeless bound holds whatever happened in the search: report it even when the
        scheduled goal's own search ended without an answer."""
        if self.scheduled_bound is None:
            return
        known = self.bound.get("scheduled_weight", self.scheduled_bound)
        self.bound["scheduled_weight"] = min(known, self.scheduled_bound)

    def _without_schedule(self) -> Solution:
        problem = self.tm.problem
        conflicts: list[Conflict] = []
        reason = "required_conflict" if self.infeasible else "not_solved"
        if self.infeasible:
            conflicts = find_conflicts(problem, max(self.clock.remaining(), 1.0))
        detail = (
            "The required meetings of this event cannot all be held together."
            if self.infeasible
            else "The solver stopped before it found a schedule."
        )
        return Solution(
            status="infeasible" if self.infeasible else "unknown",
            bound={} if self.infeasible else dict(self.bound),
            solve_seconds=round(self.clock.elapsed(), 3),
            unscheduled=[Unscheduled(w.id, reason, detail) for w in problem.wishes],
            conflicts=conflicts,
            cancelled=self.cancelled,
        )


def search_without_lp(parameters: cp_model.SatParameters) -> None:
    """For yes/no questions (is there a schedule with at most k breaks?) plain clause learning
    is what decides them; the LP only slows each worker down (measured on the B2B benchmark,
    see benchmarks/README.md). Two different restart policies share the clauses they learn.
    """
    parameters.linearization_level = 0
    if parameters.num_workers >= 2:
        parameters.subsolvers.extend(["no_lp", "quick_restart_no_lp"])
        parameters.num_full_subsolvers = parameters.num_workers
        parameters.use_feasibility_jump = False


def presolve_lightly(parameters: cp_model.SatParameters) -> None:
    """One presolve pass without probing, for the re-timing model's questions: its clauses
    (totalizers, runs) are already in the form search wants, and the full presolve took about
    3 s of every question on the hard B2B instances for nothing the search could use ("at most
    2 breaks" on ticf-13crafb, one LP-free worker: proven impossible in 4.8-5.2 s with it,
    2.6 s without; benchmarks/README.md).
    """
    parameters.max_presolve_iterations = 1
    parameters.cp_model_probing_level = 0


def set_hint(model: cp_model.CpModel, values: list[int]) -> None:
    """Hint every variable of `model` with `values`, a solution of it or of a clone of it.

    A clone can have more variables than the model (adding a constant constraint such as
    `0 <= 0` creates a constant literal); those come last and are left out.
    """
    model.clear_hints()
    count = min(len(values), len(model.proto.variables))
    hint = model.proto.solution_hint
    hint.vars.extend(range(count))
    hint.values.extend(values[:count])


def fix_goal(
    model: cp_model.CpModel, expression: cp_model.LinearExprT, sense: int, value: int, proven: bool
) -> None:
    """Keep a goal's value while later goals are optimised."""
    if proven:
        model.add(expression == value)
    elif sense > 0:
        model.add(expression >= value)
    else:
        model.add(expression <= value)


def hint_greedy_schedule(tm: TimetableModel, baseline: Solution) -> list[Meeting] | None:
    """Start from `baseline` (the head start's schedule, or a re-plan's kept published
    meetings), hinted completely (every meeting variable, held or not): on large events CP-SAT
    then improves a full timetable from its first second instead of searching for one. Returns
    that schedule when it keeps every rule, as the answer of last resort if CP-SAT finds nothing
    in time."""
    from solver.check import check

    slot_index = {s.id: i for i, s in enumerate(tm.problem.slots)}
    chosen: dict[int, tuple[int, tuple[str, ...]]] = {}
    for meeting in baseline.meetings:
        m = published_candidate(tm, meeting.wishes, meeting.participants)
        t = slot_index[meeting.slot]
        if m is not None and (m, t) in tm.at:
            chosen[m] = (t, meeting.wishes)
    for (m, t), var in tm.at.items():
        tm.model.add_hint(var, chosen.get(m, (-1,))[0] == t)
    for m, held in tm.held.items():
        tm.model.add_hint(held, m in chosen)
    for (wish, m), literal in tm.meets.items():
        if literal.Index() != tm.held[m].Index():
            tm.model.add_hint(literal, m in chosen and wish in chosen[m][1])
    valid = baseline.status == "feasible" and not check(tm.problem, baseline).violations
    return baseline.meetings if valid else None


def extract_meetings(tm: TimetableModel, values: list[int]) -> list[Meeting]:
    chosen: list[tuple[int, int, list[str]]] = []
    for (m, t), var in tm.at.items():
        if values[var.Index()]:
            meeting = tm.candidates.meetings[m]
            wishes = [
                w for w in meeting.direct + meeting.optional if values[tm.meets[w, m].Index()]
            ]
            chosen.append((m, t, wishes))
    return placed_meetings(tm.problem, tm.candidates, chosen, published_locations(tm, chosen))


def published_locations(
    tm: TimetableModel, chosen: list[tuple[int, int, list[str]]]
) -> dict[int, str]:
    """Meeting index -> its published location, for meetings kept in their published slot."""
    old = {}
    for p in tm.problem.published:
        for wish in p.wishes:
            old[wish, p.slot, frozenset(p.participants)] = p.location
    preferred = {}
    for m, t, wishes in chosen:
        pair = frozenset(tm.candidates.meetings[m].participants)
        for wish in wishes:
            location = old.get((wish, tm.problem.slots[t].id, pair))
            if location is not None:
                preferred[m] = location
    return preferred


def explain(problem: Problem, meetings: list[Meeting], met: set[str]) -> list[Unscheduled]:
    """Model-based reasons for the accepted wishes left out (solver/explain/)."""
    if all(w.id in met for w in problem.wishes):
        return []
    from solver.explain import explain_unscheduled

    return list(explain_unscheduled(problem, meetings))


def find_conflicts(problem: Problem, time_limit: float) -> list[Conflict]:
    """A small set of required wishes and rules that cannot all hold (solver/explain/)."""
    from solver.explain import find_conflicts as conflicting_core

    return list(conflicting_core(problem, time_limit))


class _ProgressReporter(cp_model.CpSolverSolutionCallback):
    """Throttled progress of the current goal; stops the search on cancellation."""

    def __init__(
        self,
        goal: str,
        params: SolveParameters,
        clock: _Clock,
        scale: int,
        solver: cp_model.CpSolver,
    ) -> None:
        super().__init__()
        self.goal = goal
        self.params = params
        self.clock = clock
        self.scale = scale
        self.last = -float("inf")
        self.report: Callable[[Progress], None] | None = params.on_progress

    def on_solution_callback(self) -> None:
        if self.params.cancel is not None and self.params.cancel.is_set():
            self.stop_search()
            return
        if self.report is None:
            return
        now = self.clock.elapsed()
        if now - self.last < self.params.progress_interval_seconds:
            return
        self.last = now
        has_objective = self.goal != "required"
        self.report(
            Progress(
                goal=self.goal,
                objective=self.objective_value / self.scale if has_objective else None,
                bound=self.best_objective_bound / self.scale if has_objective else None,
                elapsed_seconds=now,
                time_share=min(now / self.clock.limit, 1.0),
            )
        )


class _Retimer:
    """The climbing step's question on the compact re-timing model, in a thread. Whichever of
    the two models answers first stops the other."""

    def __init__(
        self, run: _LexicographicRun, bound: int, budget: float, rival: cp_model.CpSolver
    ) -> None:
        if run.fixed_meetings is None:
            raise AssertionError("run.fixed_meetings is not None")
        problem = run.tm.problem
        self.question = retime_model(
            problem,
            run.fixed_meetings,
            run.tm.candidates.capacity,
            bound,
            problem.max_break_difference,
            run.slots_of(run.values),
        )
        # LP-free, like the full model's step: on a loaded machine the LP worker got through
        # about 150 conflicts in 20 s on the hard instances and overran the time limit by up
        # to 5 s (benchmarks/README.md, issue 16).
        self.solver = run._solver(budget, search_only=True, workers=max(run.params.workers // 2, 1))
        presolve_lightly(self.solver.parameters)
        self.status: cp_model.CpSolverStatus = cp_model.UNKNOWN
        self.slots: dict[int, int] = {}
        self._owner = run
        self._rival = rival
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._solve, name="retime", daemon=True)
        self._thread.start()

    def _solve(self) -> None:
        if self._done.is_set():
            return
        self.status = self._owner._run(self.solver, self.question.model)
        if self.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.slots = self.question.slots(self.solver)
        if self.status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE):
            self._rival.stop_search()

    def searching(self) -> bool:
        """Still looking for an answer."""
        return self._thread.is_alive() and self.status == cp_model.UNKNOWN

    def finish(self) -> None:
        """Stop the search if it is still running and wait for the thread."""
        self._done.set()
        while self._thread.is_alive():
            self.solver.stop_search()
            self._thread.join(0.05)


class _Rung:
    """One question of the re-timing climb in a thread, on one LP-free worker with its own
    seed: "at most `bound` breaks?" on its own compact model (built in the thread), or, with
    `bound` None, "any schedule at all?" on the full model (`values`). Sets `finished` when it
    has an answer or has run out of time."""

    def __init__(
        self,
        run: _LexicographicRun,
        bound: int | None,
        budget: float,
        seed: int,
        finished: threading.Event,
    ) -> None:
        self.bound = bound
        self.status: cp_model.CpSolverStatus = cp_model.UNKNOWN
        #: Meeting index -> slot, on a "yes" to a question on breaks.
        self.slots: dict[int, int] = {}
        #: A schedule of the full model, on a "yes" to "any schedule?".
        self.values: list[int] | None = None
        self.solver = run._solver(budget, search_only=True, workers=1)
        self.solver.parameters.random_seed = seed
        self._full: cp_model.CpModel | None = None
        if bound is None:
            self._full = run.tm.model.clone()
            self._full.clear_objective()
        else:
            presolve_lightly(self.solver.parameters)
        self._owner = run
        self._finished = finished
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._solve, name=f"rung-{bound}", daemon=True)
        self._thread.start()

    def _solve(self) -> None:
        try:
            self._ask()
        finally:
            self._finished.set()

    def _ask(self) -> None:
        run = self._owner
        if self._full is not None:
            self.status = run._run(self.solver, self._full)
            if self.status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.values = list(self.solver.response_proto.solution)
            return
        if run.fixed_meetings is None or self.bound is None:
            raise AssertionError("a question on breaks needs the fixed meeting set")
        problem = run.tm.problem
        question = retime_model(
            problem,
            run.fixed_meetings,
            run.tm.candidates.capacity,
            self.bound,
            problem.max_break_difference,
        )
        if self._stopped.is_set():
            return
        status = run._run(self.solver, question.model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.slots = question.slots(self.solver)
        self.status = status

    def done(self) -> bool:
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop the search and wait for the thread."""
        self._stopped.set()
        while self._thread.is_alive():
            self.solver.stop_search()
            self._thread.join(0.05)


class _CancelWatcher:
    """Stops the search as soon as the cancel event is set, even between solutions."""

    def __init__(self, cancel: threading.Event | None, solver: cp_model.CpSolver) -> None:
        self.cancel = cancel
        self.solver = solver
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _CancelWatcher:
        if self.cancel is not None:
            self.thread = threading.Thread(target=self._watch, daemon=True)
            self.thread.start()
        return self

    def _watch(self) -> None:
        if self.cancel is None:
            raise AssertionError("self.cancel is not None")
        while not self.done.is_set():
            if self.cancel.wait(0.05):
                self.solver.stop_search()
                return

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join()
