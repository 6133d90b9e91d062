"""Re-timing a fixed set of meetings for few breaks: a compact model for the breaks climb.

When every meeting of an event must be held (all wishes required, as in the B2B benchmark),
the breaks goal only decides *when* each meeting is held. This module asks that question on a
model with nothing else in it: one Boolean per (meeting, slot), a busy literal per participant
and slot, runs of meetings (solver/runs.py), and for each participant a literal "no break" that
picks one block of consecutive slots for all its meetings. On the B2B instances this finds
zero-break schedules that the full timetable model (with its wish, cap and fairness machinery)
does not find in the same time (benchmarks/README.md).

The model is a relaxation of the full model's question "a schedule with at most B breaks?":
it keeps every rule that decides when meetings can be held (their allowed slots, one meeting
per participant and slot, location capacity per slot, the order `after` rules ask), counts
breaks the same way (solver/breaks.py) and drops only rules that cannot matter when the set of
meetings is fixed (meeting caps). So "no" here is a proof for the full model; "yes" gives a
slot per meeting that the full model completes (and re-checks) as its hint.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from solver.candidates import Candidate, Candidates
from solver.problem import Problem, slots_by_day
from solver.runs import break_starts, busy_literal, day_runs
from solver.totalizer import add_at_most_by_totalizer


@dataclass(slots=True)
class RetimeModel:
    model: cp_model.CpModel
    #: (meeting index, slot index) -> held in that slot.
    at: dict[tuple[int, int], cp_model.IntVar]
    #: Total breaks of the schedule.
    total: cp_model.LinearExprT

    def slots(self, solver: cp_model.CpSolver) -> dict[int, int]:
        """Meeting index -> slot index in the solver's schedule."""
        return {m: t for (m, t), literal in self.at.items() if solver.boolean_value(literal)}


def fixed_meeting_set(problem: Problem, candidates: Candidates) -> list[Candidate] | None:
    """The meetings every schedule must hold, when that set is all there is to decide, each
    with the slots that every one of its wishes allows (they are all required, so all met);
    None when some meeting is optional. `after` rules are kept: with every meeting held, each
    one binds (`retime_model` orders the meetings)."""
    required = {w.id for w in problem.wishes if w.required}
    possible = [m for m in candidates.meetings if not m.impossible]
    if any(m.optional or not any(w in required for w in m.direct) for m in possible):
        return None
    fixed = []
    for meeting in possible:
        slots = set(meeting.slots)
        for wish in meeting.direct:
            slots &= candidates.wish_slots.get(wish, slots)
        fixed.append(replace(meeting, slots=tuple(sorted(slots))))
    return fixed


def retime_model(
    problem: Problem,
    meetings: list[Candidate],
    capacity: dict[str, int],
    max_breaks: int,
    max_difference: int | None,
    hint: dict[int, int] | None = None,
) -> RetimeModel:
    """The question "slots for `meetings` (all held) with at most `max_breaks` breaks in
    total?" as a CP-SAT model."""
    model = cp_model.CpModel()
    horizon = len(problem.slots)
    days = slots_by_day(problem)
    at: dict[tuple[int, int], cp_model.IntVar] = {}
    of_person: dict[str, list[Candidate]] = defaultdict(list)
    in_class: dict[tuple[str, int], list[cp_model.IntVar]] = defaultdict(list)
    for meeting in meetings:
        options = []
        for t in meeting.slots:
            literal = model.new_bool_var(f"at[{meeting.index},{t}]")
            at[meeting.index, t] = literal
            options.append(literal)
            in_class[meeting.location_class, t].append(literal)
        model.add_exactly_one(options)
        for person in meeting.participants:
            of_person[person].append(meeting)
    for (where, _), literals in in_class.items():
        if len(literals) > capacity.get(where, 0):
            model.add(sum(literals) <= capacity.get(where, 0))
            add_at_most_by_totalizer(model, literals, capacity.get(where, 0))

    # Participants with meetings: when the budget is below their number, one of them has no
    # break, so the fairness cap is simply `max_difference` breaks each.
    cap = max_difference if max_difference is not None and max_breaks < len(of_person) else None
    counts: list[cp_model.LinearExprT] = []
    with_break: list[cp_model.LinearExprT] = []
    busy_at: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    starts: list[cp_model.IntVar] = []
    meetings_at: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (_, t), literal in at.items():
        meetings_at[t].append(literal)
    for own in of_person.values():
        busy: dict[int, cp_model.IntVar] = {}
        for t in range(horizon):
            literals = [at[m.index, t] for m in own if (m.index, t) in at]
            if not literals:
                continue
            busy[t] = busy_literal(model, literals)
            busy_at[t].append(busy[t])
        model.add(sum(busy.values()) == len(own))
        runs: list[cp_model.LinearExprT] = []
        for day in days:
            if sum(t in busy for t in day) < 2:
                continue
            day_busy = [busy.get(t) for t in day]
            runs.append(day_runs(model, day_busy).breaks)
            starts += break_starts(model, day_busy)
        if not runs or len(own) < 2:
            continue
        breaks = model.new_int_var(0, cap if cap is not None else horizon, "")
        model.add(breaks == sum(runs))
        counts.append(breaks)
        no_break = model.new_bool_var("")
        model.add(breaks == 0).only_enforce_if(no_break)
        model.add(breaks >= 1).only_enforce_if(no_break.Not())
        with_break.append(no_break.Not())
        if len(days) == 1:
            _one_block(model, busy, len(own), horizon, no_break)
    # Two busy participants per meeting, so at most twice the slot's tables busy: implied by
    # the capacity, but as a totalizer it gives clause learning counts of busy participants.
    room_at: dict[int, int] = defaultdict(int)
    for (where, t), literals in in_class.items():
        room_at[t] += min(len(literals), capacity.get(where, 0))
    for t, literals in busy_at.items():
        model.add(sum(literals) == 2 * sum(meetings_at[t]))
        add_at_most_by_totalizer(model, literals, 2 * room_at[t])
    model.add(sum(counts) <= max_breaks)
    model.add(sum(with_break) <= max_breaks)
    # The same budget over the slots where breaks begin, counted by a totalizer: implied, but
    # it decided forum-13crafb's "at most 6" in 10-16 s on each of seeds 0-4, where without it
    # seed 0 took 6 s, seeds 4-5 14-24 s and seeds 1-3 no answer in 30-40 s (one worker).
    add_at_most_by_totalizer(model, starts, max_breaks)
    _keep_order(model, problem, meetings, at)
    if hint:
        for (m, t), literal in at.items():
            if m in hint:
                model.add_hint(literal, hint[m] == t)

    return RetimeModel(model, at, sum(counts))


def _one_block(
    model: cp_model.CpModel,
    busy: dict[int, cp_model.IntVar],
    size: int,
    horizon: int,
    no_break: cp_model.IntVar,
) -> None:
    """Without a break, the participant's meetings fill one block of `size` consecutive
    slots: one literal per possible first slot decides its whole day."""
    firsts = [f for f in range(horizon - size + 1) if all(t in busy for t in range(f, f + size))]
    blocks = [model.new_bool_var("") for _ in firsts]
    model.add(sum(blocks) == no_break)
    for t, literal in busy.items():
        cover = [b for b, f in zip(blocks, firsts, strict=True) if f <= t < f + size]
        for block in cover:
            model.add_implication(block, literal)
        model.add(sum(cover) >= literal).only_enforce_if(no_break)


def _keep_order(
    model: cp_model.CpModel,
    problem: Problem,
    meetings: list[Candidate],
    at: dict[tuple[int, int], cp_model.IntVar],
) -> None:
    """`after`: every meeting is held, so a wish's meeting comes strictly after the meeting of
    each wish in its `after` (as in the full model, solver/model.py `respect_after_rules`).
    One clause per slot of the later meeting: held there, the earlier one is held before."""
    meeting_of = {wish: m for m in meetings for wish in m.direct}
    slots_of = {m.index: m.slots for m in meetings}
    for wish in problem.wishes:
        later = meeting_of.get(wish.id)
        for earlier in wish.after:
            first = meeting_of.get(earlier)
            if later is None or first is None:
                continue  # a wish without a possible meeting: the full model reports it
            if later.index == first.index:
                model.add_bool_or([])  # one meeting cannot come before itself
                continue
            for t in slots_of[later.index]:
                before = [at[first.index, s] for s in slots_of[first.index] if s < t]
                model.add_bool_or([at[later.index, t].Not(), *before])
