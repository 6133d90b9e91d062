"""An upper bound on the `scheduled` goal from a relaxation without time.

Forget *when* meetings are held and keep only *which* meetings are held: a weighted
b-matching. Each participant holds at most min(cap, slots it can meet in) meetings, a wish to an
organisation is met by at most one representative, a wish only through a meeting that has a slot
its own rules allow, each location class holds at most (its capacity x slots it can be used in)
meetings, and the event cap holds. Every timetable gives such a matching with the same weight,
so the matching's optimum (or any proven bound on it) bounds `scheduled_weight`.

On big events CP-SAT's own bound on the full timetable model stays at the sum of all weights
(its LP is too large to solve in time), while this model has one Boolean per candidate meeting
and its LP bound is tight within seconds (benchmarks/README.md, "Scale").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from solver.candidates import HOST_PREFIX, ONSITE, Candidates
from solver.problem import Problem, wish_weights


@dataclass(frozen=True, slots=True)
class MatchingBound:
    #: Proven upper bound on scheduled_weight.
    bound: int
    #: Best matching found (candidate meeting indices): a good choice of meetings to place.
    chosen: frozenset[int]
    proven_optimal: bool
    #: Weight of the wishes that matching meets (0 without one): how close it is to the bound.
    weight: int = 0


def matching_bound(
    problem: Problem,
    candidates: Candidates,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    deterministic: bool = False,
) -> MatchingBound:
    """Solve the timeless relaxation within `time_limit` seconds; its bound is always valid."""
    model = cp_model.CpModel()
    weight = wish_weights(problem.wishes)
    held: dict[int, cp_model.IntVar] = {}
    terms: list[cp_model.LinearExprT] = []
    met_by: dict[str, list[cp_model.IntVar]] = defaultdict(list)
    for meeting in candidates.meetings:
        if meeting.impossible:
            continue
        slots = set(meeting.slots)
        held[meeting.index] = h = model.new_bool_var(f"held[{meeting.index}]")
        useful = []
        for wish in meeting.direct + meeting.optional:
            if not slots & candidates.wish_slots[wish]:
                continue
            met = model.new_bool_var(f"met[{wish},{meeting.index}]")
            model.add_implication(met, h)
            met_by[wish].append(met)
            terms.append(weight[wish] * met)
            useful.append(met)
        # A meeting is held only for a wish it meets.
        model.add_bool_or(useful).only_enforce_if(h) if useful else model.add(h == 0)
    for literals in met_by.values():
        if len(literals) > 1:
            model.add_at_most_one(literals)
    _degrees(problem, candidates, model, held)
    _location_classes(problem, candidates, model, held)
    if problem.max_meetings_total is not None:
        model.add(sum(held.values()) <= problem.max_meetings_total)
    model.maximize(sum(terms))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.num_workers = max(workers, 1)
    solver.parameters.random_seed = seed
    # The full LP (max_lp) proves this model optimal in a second on the cluster size, where
    # the default workers stay 5 % above the optimum after 15 s (benchmarks/README.md).
    solver.parameters.linearization_level = 2
    if deterministic:
        solver.parameters.num_workers = 1
        solver.parameters.max_deterministic_time = max(time_limit, 0.01)
    elif workers >= 2:
        solver.parameters.subsolvers.extend(["max_lp", "core"])
        solver.parameters.num_full_subsolvers = workers
    status = solver.solve(model)
    total = sum(weight.values())
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # Without a solution CP-SAT's bound is not reliable: only the sum of weights is proven.
        return MatchingBound(total, frozenset(), False)
    chosen = frozenset(m for m, h in held.items() if solver.boolean_value(h))
    # The objective is integral, so the bound rounds down.
    bound = int(solver.best_objective_bound + 1e-6)
    return MatchingBound(
        min(bound, total), chosen, status == cp_model.OPTIMAL, round(solver.objective_value)
    )


def _degrees(
    problem: Problem,
    candidates: Candidates,
    model: cp_model.CpModel,
    held: dict[int, cp_model.IntVar],
) -> None:
    """No participant holds more meetings than its cap or the slots it can meet in."""
    mine: dict[str, list[int]] = defaultdict(list)
    for m in held:
        for person_id in candidates.meetings[m].participants:
            mine[person_id].append(m)
    for person in problem.participants:
        meetings = mine.get(person.id, [])
        cap = person.max_meetings
        if cap is None:
            cap = problem.max_meetings_per_participant
        usable = _slot_count(candidates, meetings)
        limit = usable if cap is None else min(cap, usable)
        _at_most(model, held, meetings, limit)
        _hall_cuts(candidates, model, held, meetings, limit)


def _hall_cuts(
    candidates: Candidates,
    model: cp_model.CpModel,
    held: dict[int, cp_model.IntVar],
    meetings: list[int],
    limit: int,
) -> None:
    """Meetings of one participant that can only be held within slots T are at most |T|
    (one meeting per slot). T ranges over the slot sets of its meetings: partners missing a
    session or a few slots make these sets small, and then they bind."""
    windows = {frozenset(candidates.meetings[m].slots) for m in meetings}
    for window in windows:
        if len(window) >= limit:
            continue
        inside = [m for m in meetings if window.issuperset(candidates.meetings[m].slots)]
        _at_most(model, held, inside, len(window))


def _location_classes(
    problem: Problem,
    candidates: Candidates,
    model: cp_model.CpModel,
    held: dict[int, cp_model.IntVar],
) -> None:
    """A location class holds at most its capacity in each slot any of its meetings can use."""
    per_class: dict[str, list[int]] = defaultdict(list)
    for m in held:
        where = candidates.meetings[m].location_class
        per_class[where].append(m)
        if where.startswith(HOST_PREFIX):
            per_class[ONSITE].append(m)
    for where, meetings in per_class.items():
        limit = candidates.capacity.get(where, 0) * _slot_count(candidates, meetings)
        _at_most(model, held, meetings, limit)


def _slot_count(candidates: Candidates, meetings: list[int]) -> int:
    """How many slots any of the candidate `meetings` can use."""
    return len({t for m in meetings for t in candidates.meetings[m].slots})


def _at_most(
    model: cp_model.CpModel, held: dict[int, cp_model.IntVar], meetings: list[int], limit: int
) -> None:
    """At most `limit` of `meetings` are held (no constraint when they are that few anyway)."""
    if len(meetings) > limit:
        model.add(sum(held[m] for m in meetings) <= limit)
