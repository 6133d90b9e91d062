"""The CP-SAT model of a matchmaking timetable: variables, hard rules and goal expressions.

One Boolean `at[m, t]` per candidate meeting m and slot t it may be held in (no per-table
variables: location classes are counted per slot, tables come afterwards). Each family of
rules is one function named after the rule. Goal expressions are built on demand, so a
goal that is not optimised adds nothing to the model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from solver.breaks import BreakTerms, add_break_terms
from solver.candidates import HOST_PREFIX, ONSITE, Candidates, build_candidates
from solver.problem import Problem, wish_weights

#: Fairness is optimised as an integer: min share scaled by this (or by the lcm of the wish
#: counts when that is small enough, which makes the scaled optimum exact).
FAIRNESS_MAX_SCALE = 100_000

Literal = cp_model.IntVar


@dataclass
class TimetableModel:
    problem: Problem
    candidates: Candidates
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    #: (meeting index, slot index) -> held in that slot.
    at: dict[tuple[int, int], Literal] = field(default_factory=dict)
    #: meeting index -> held at all.
    held: dict[int, Literal] = field(default_factory=dict)
    #: (wish id, meeting index) -> the wish is met by that meeting.
    meets: dict[tuple[str, int], Literal] = field(default_factory=dict)
    #: participant id -> slot index -> meetings of the participant that may be held then.
    busy_terms: dict[str, dict[int, list[Literal]]] = field(default_factory=dict)
    #: Goal name -> (expression, +1 maximise / -1 minimise); filled by `add_goal`.
    goals: dict[str, tuple[cp_model.LinearExprT, int]] = field(default_factory=dict)
    breaks: BreakTerms | None = None
    fairness_scale: int = 1

    def wish_met(self, wish: str) -> cp_model.LinearExprT:
        return sum(self.ways_to_meet(wish))

    def ways_to_meet(self, wish: str) -> list[Literal]:
        """Literals 'this meeting meets the wish', one per possible candidate meeting."""
        return [
            self.meets[wish, m]
            for m in self.candidates.by_wish.get(wish, [])
            if (wish, m) in self.meets
        ]


def build_model(problem: Problem, candidates: Candidates | None = None) -> TimetableModel:
    """The hard rules of the timetable; goals are added with `add_goal`."""
    tm = TimetableModel(problem, candidates or build_candidates(problem))
    make_meeting_variables(tm)
    link_wishes_to_meetings(tm)
    forbid_double_booking(tm)
    respect_meeting_caps(tm)
    respect_location_capacity(tm)
    respect_after_rules(tm)
    require_required_wishes(tm)
    cap_break_differences(tm)
    return tm


def cap_break_differences(tm: TimetableModel) -> None:
    """`max_break_difference` is a rule of the event (docs/bundle-format.md), not part of the
    `breaks` goal: it holds whether or not breaks are optimised. The break terms that carry it
    serve the `breaks` goal too when the objective has it."""
    if tm.problem.max_break_difference is not None:
        tm.breaks = add_break_terms(tm, tm.problem.max_break_difference)


def make_meeting_variables(tm: TimetableModel) -> None:
    busy: dict[str, dict[int, list[Literal]]] = defaultdict(lambda: defaultdict(list))
    for meeting in tm.candidates.meetings:
        if meeting.impossible:
            continue
        held = tm.model.new_bool_var(f"held[{meeting.index}]")
        tm.held[meeting.index] = held
        slot_vars = []
        for t in meeting.slots:
            var = tm.model.new_bool_var(f"at[{meeting.index},{t}]")
            tm.at[meeting.index, t] = var
            slot_vars.append(var)
            for person in meeting.participants:
                busy[person][t].append(var)
        tm.model.add(sum(slot_vars) == held)
    tm.busy_terms = {p: dict(by_slot) for p, by_slot in busy.items()}


def link_wishes_to_meetings(tm: TimetableModel) -> None:
    """Which wishes a held meeting meets. A meeting for one wish meets it; otherwise each wish
    is met only in slots its own rules allow, a wish to an organisation by at most one of its
    representatives' meetings, and a meeting is held only when it meets some wish."""
    model = tm.model
    for meeting in tm.candidates.meetings:
        if meeting.impossible:
            continue
        held = tm.held[meeting.index]
        wishes = meeting.direct + meeting.optional
        if len(wishes) == 1 and meeting.direct:
            tm.meets[wishes[0], meeting.index] = held
            continue
        for wish in wishes:
            meets = model.new_bool_var(f"meets[{wish},{meeting.index}]")
            model.add_implication(meets, held)
            allowed = tm.candidates.wish_slots[wish]
            for t in meeting.slots:
                if t not in allowed:
                    model.add_implication(meets, tm.at[meeting.index, t].Not())
            tm.meets[wish, meeting.index] = meets
        model.add_bool_or([tm.meets[w, meeting.index] for w in wishes]).only_enforce_if(held)
    for wish, options in tm.candidates.by_wish.items():
        literals = [tm.meets[wish, m] for m in options if (wish, m) in tm.meets]
        if len(literals) > 1:
            model.add_at_most_one(literals)


def forbid_double_booking(tm: TimetableModel) -> None:
    for by_slot in tm.busy_terms.values():
        for literals in by_slot.values():
            if len(literals) > 1:
                tm.model.add_at_most_one(literals)


def respect_meeting_caps(tm: TimetableModel) -> None:
    problem = tm.problem
    held_by: dict[str, list[Literal]] = defaultdict(list)
    for meeting in tm.candidates.meetings:
        if not meeting.impossible:
            for person in meeting.participants:
                held_by[person].append(tm.held[meeting.index])
    for participant in problem.participants:
        cap = participant.max_meetings
        if cap is None:
            cap = problem.max_meetings_per_participant
        if cap is not None and len(held_by[participant.id]) > cap:
            tm.model.add(sum(held_by[participant.id]) <= cap)
    if problem.max_meetings_total is not None:
        tm.model.add(sum(tm.held.values()) <= problem.max_meetings_total)


def respect_location_capacity(tm: TimetableModel) -> None:
    """Per slot: each host location holds its capacity, all tables and rooms together hold
    the onsite meetings (host ones included), video rooms the online ones."""
    per_class_slot: dict[tuple[str, int], list[Literal]] = defaultdict(list)
    for (m, t), var in tm.at.items():
        where = tm.candidates.meetings[m].location_class
        per_class_slot[where, t].append(var)
        if where.startswith(HOST_PREFIX):
            per_class_slot[ONSITE, t].append(var)
    for (where, _), literals in per_class_slot.items():
        if len(literals) > tm.candidates.capacity[where]:
            tm.model.add(sum(literals) <= tm.candidates.capacity[where])


def _start(tm: TimetableModel, meeting: int) -> cp_model.LinearExprT:
    """Slot index of a meeting when it is held (0 otherwise)."""
    return sum(t * tm.at[meeting, t] for t in tm.candidates.meetings[meeting].slots)


def respect_after_rules(tm: TimetableModel) -> None:
    """`after`: the earlier wishes' meetings are held strictly before, when both are held.

    If the earlier wish is not met, the later one may still be (its meeting stays useful); a
    required earlier wish is always met, so then the order always binds.
    """
    for wish in tm.problem.wishes:
        for earlier in wish.after:
            for m in tm.candidates.by_wish.get(wish.id, []):
                for e in tm.candidates.by_wish.get(earlier, []):
                    if (wish.id, m) not in tm.meets or (earlier, e) not in tm.meets:
                        continue
                    both = [tm.meets[wish.id, m], tm.meets[earlier, e]]
                    if m == e:
                        tm.model.add_bool_or([lit.Not() for lit in both])
                    else:
                        tm.model.add(_start(tm, e) + 1 <= _start(tm, m)).only_enforce_if(both)


def require_required_wishes(tm: TimetableModel) -> None:
    for wish in tm.problem.wishes:
        if wish.required:
            # An empty clause when no meeting can meet it: the event is infeasible.
            tm.model.add_bool_or(tm.ways_to_meet(wish.id))


# ---------------------------------------------------------------- goals


def add_goal(tm: TimetableModel, goal: str) -> None:
    """Add the expression of one goal (see docs/design.md) to `tm.goals`."""
    if goal in tm.goals:
        return
    if goal == "required":
        # Required wishes are hard rules; nothing to optimise.
        tm.goals[goal] = (0, -1)
    elif goal == "scheduled":
        tm.goals[goal] = (scheduled_weight(tm), 1)
    elif goal == "fairness":
        tm.goals[goal] = (min_share_scaled(tm), 1)
    elif goal == "breaks":
        if tm.breaks is None:
            tm.breaks = add_break_terms(tm, tm.problem.max_break_difference)
        tm.goals[goal] = (tm.breaks.total, -1)
    elif goal == "stability":
        tm.goals[goal] = (published_meetings_moved(tm), -1)
    else:
        raise ValueError(f"unknown goal {goal!r}; expected one of the names in solver.GOALS")


def scheduled_weight(tm: TimetableModel) -> cp_model.LinearExprT:
    weight = wish_weights(tm.problem.wishes)
    return sum(weight[w.id] * tm.wish_met(w.id) for w in tm.problem.wishes)


def wishes_of(problem: Problem) -> dict[str, list[str]]:
    """Participant -> accepted wishes it sent or received directly (for the fairness share)."""
    mine: dict[str, list[str]] = defaultdict(list)
    for wish in problem.wishes:
        mine[wish.sender].append(wish.id)
        if wish.recipient is not None and wish.recipient != wish.sender:
            mine[wish.recipient].append(wish.id)
    return mine


def min_share_scaled(tm: TimetableModel) -> cp_model.LinearExprT:
    """The smallest share of a participant's wishes that is met, times `fairness_scale`."""
    mine = wishes_of(tm.problem)
    counts = {len(w) for w in mine.values()}
    scale = math.lcm(*counts) if counts else 1
    tm.fairness_scale = scale if scale <= FAIRNESS_MAX_SCALE else FAIRNESS_MAX_SCALE
    share = tm.model.new_int_var(0, tm.fairness_scale, "min_share")
    for wishes in mine.values():
        met = sum(tm.wish_met(w) for w in wishes)
        tm.model.add(len(wishes) * share <= tm.fairness_scale * met)
    return share


def published_meetings_moved(tm: TimetableModel) -> cp_model.LinearExprT:
    """Published meetings not kept. One is kept when the same two participants meet in the same
    slot for at least one of its wishes; its table is then given back (see solver/tables.py)."""
    slot_index = {s.id: i for i, s in enumerate(tm.problem.slots)}
    moved = []
    for n, old in enumerate(tm.problem.published):
        kept = tm.model.new_bool_var(f"kept[{n}]")
        meeting = published_candidate(tm, old.wishes, old.participants)
        t = slot_index.get(old.slot, -1)
        if meeting is None or (meeting, t) not in tm.at:
            tm.model.add(kept == 0)
        else:
            tm.model.add_implication(kept, tm.at[meeting, t])
            ways = [tm.meets[w, meeting] for w in old.wishes if (w, meeting) in tm.meets]
            tm.model.add_bool_or(ways).only_enforce_if(kept)
        moved.append(1 - kept)
    return sum(moved)


def published_candidate(
    tm: TimetableModel, wishes: tuple[str, ...], participants: tuple[str, str]
) -> int | None:
    """The candidate meeting of the same two participants that meets some of these wishes."""
    pair = frozenset(participants)
    for wish in wishes:
        for m in tm.candidates.by_wish.get(wish, []):
            if frozenset(tm.candidates.meetings[m].participants) == pair and m in tm.held:
                return m
    return None
