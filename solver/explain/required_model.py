"""CP-SAT feasibility of the required wishes, each rule instance behind an assumption literal,
and the minimal cores that name the rules which cannot all hold."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from solver.check import EventIndex, count_breaks
from solver.explain.timetable import any_suitable_location
from solver.problem import Conflict, Wish
from solver.runs import busy_literal, day_runs


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule instance that the feasibility model can switch off."""

    rule: str
    wishes: tuple[str, ...]
    detail: str
    #: For rules about a participant: its id, to relate the core's wishes to it.
    person: str | None = None


class RequiredModel:
    """CP-SAT feasibility of the required wishes, each rule instance behind an assumption."""

    def __init__(self, index: EventIndex, required: list[Wish]) -> None:
        self.index = index
        self.required = required
        self.model = cp_model.CpModel()
        #: Assumption literal index -> the rule instance it switches on, and the literal.
        self.rules: dict[int, Rule] = {}
        self.literals: dict[int, cp_model.IntVar] = {}
        #: (wish, partner, slot) -> literal "the wish is met with partner in slot".
        self.x: dict[tuple[str, str, str], cp_model.IntVar] = {}
        self.held: dict[str, cp_model.IntVar] = {}
        self._build()

    def _assumption(self, rule: Rule) -> cp_model.IntVar:
        lit = self.model.new_bool_var(rule.rule)
        self.rules[lit.index] = rule
        self.literals[lit.index] = lit
        return lit

    def _build(self) -> None:
        index, model = self.index, self.model
        for w in self.required:
            for partner in index.candidates(w):
                if any_suitable_location(index, w.sender, partner):
                    for s in index.problem.slots:
                        self.x[(w.id, partner, s.id)] = model.new_bool_var(f"x_{w.id}_{partner}")
        for w in self.required:
            self._hold(w)
            self._timing(w)
        self._pairs_and_busy()
        for w in self.required:
            self._order(w)

    def _options(self, wish: str) -> list[tuple[str, str, cp_model.IntVar]]:
        return [(p, s, v) for (w, p, s), v in self.x.items() if w == wish]

    def _hold(self, w: Wish) -> None:
        held = self.model.new_bool_var(f"held_{w.id}")
        self.model.add(sum(v for _, _, v in self._options(w.id)) == held)
        self.held[w.id] = held
        lit = self._assumption(Rule("required", (w.id,), f"wish {w.id} is required"))
        self.model.add_implication(lit, held)

    def _timing(self, w: Wish) -> None:
        if w.fixed_slot is None and w.session is None:
            return
        allowed = set(self.index.allowed_slots(w))
        rule = "fixed_slot" if w.fixed_slot is not None else "session"
        where = f"slot {w.fixed_slot}" if w.fixed_slot is not None else f"session {w.session}"
        lit = self._assumption(Rule(rule, (w.id,), f"wish {w.id} must be met in {where}"))
        for _, s, v in self._options(w.id):
            if s not in allowed:
                self.model.add_implication(lit, v.Not())

    def _pairs_and_busy(self) -> None:
        """Pairs meet once (plus separate wishes); one meeting per participant per slot."""
        index, model = self.index, self.model
        # A meeting is a pair's shared meeting in a slot, or one separate wish's meeting.
        meetings: dict[tuple[object, str], list[cp_model.IntVar]] = defaultdict(list)
        people: dict[object, tuple[str, str]] = {}
        for (wid, partner, s), v in self.x.items():
            w = index.wishes[wid]
            key: object = wid if w.separate else frozenset((w.sender, partner))
            meetings[(key, s)].append(v)
            people[key] = (w.sender, partner)
        held: dict[tuple[object, str], cp_model.IntVar] = {}
        for (key, s), vs in meetings.items():
            m = model.new_bool_var("meeting")
            model.add_max_equality(m, vs)
            held[(key, s)] = m
        by_key: dict[object, list[cp_model.IntVar]] = defaultdict(list)
        for (key, _), m in held.items():
            by_key[key].append(m)
        for ms in by_key.values():
            model.add_at_most_one(ms)
        self._busy_and_caps(held, people)
        self._locations_and_total(held, people)

    def _busy_and_caps(
        self, held: dict[tuple[object, str], cp_model.IntVar], people: dict[object, tuple[str, str]]
    ) -> None:
        index, model = self.index, self.model
        busy: dict[str, dict[str, list[cp_model.IntVar]]] = defaultdict(lambda: defaultdict(list))
        for (key, s), m in held.items():
            for p in people[key]:
                busy[p][s].append(m)
        self.busy = busy
        involved = self._wishes_of_person()
        for p, by_slot in busy.items():
            for ms in by_slot.values():
                model.add_at_most_one(ms)
            away = index.participants[p].unavailable & set(by_slot)
            if away:
                lit = self._assumption(
                    Rule(
                        "unavailable",
                        involved[p],
                        f"{p} is unavailable in slots {', '.join(sorted(away))}",
                        p,
                    )
                )
                for s in away:
                    for m in by_slot[s]:
                        model.add_implication(lit, m.Not())
            cap = index.cap(p)
            if cap is not None:
                lit = self._assumption(
                    Rule("participant_cap", involved[p], f"{p} may hold at most {cap} meetings", p)
                )
                model.add(sum(m for ms in by_slot.values() for m in ms) <= cap).only_enforce_if(lit)

    def _wishes_of_person(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, set[str]] = defaultdict(set)
        for wid, partner, _ in self.x:
            out[self.index.wishes[wid].sender].add(wid)
            out[partner].add(wid)
        return {p: tuple(sorted(ws)) for p, ws in out.items()}

    def _locations_and_total(
        self, held: dict[tuple[object, str], cp_model.IntVar], people: dict[object, tuple[str, str]]
    ) -> None:
        """Location capacity by Hall's condition per slot: online meetings fit the online rooms,
        each host's meetings fit its location, all onsite meetings fit the onsite places."""
        index, model = self.index, self.model
        locations = index.problem.locations
        online_room = sum(loc.capacity for loc in locations if loc.kind == "online")
        onsite = sum(loc.capacity for loc in locations if loc.kind != "online")
        capacity = {loc.id: loc.capacity for loc in locations}
        lit = self._assumption(
            Rule("location_capacity", (), "there are not enough tables and rooms at once")
        )
        per_slot: dict[str, dict[str, list[cp_model.IntVar]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for (key, s), m in held.items():
            a, b = people[key]
            if index.is_online_pair(a, b):
                per_slot[s]["online"].append(m)
                continue
            per_slot[s]["onsite"].append(m)
            host = index.participants[a].host_location or index.participants[b].host_location
            if host is not None:
                per_slot[s][f"host:{host}"].append(m)
        for groups in per_slot.values():
            for group, ms in groups.items():
                limit = (
                    online_room
                    if group == "online"
                    else onsite
                    if group == "onsite"
                    else capacity[group.removeprefix("host:")]
                )
                if len(ms) > limit:
                    model.add(sum(ms) <= limit).only_enforce_if(lit)
        total = index.problem.max_meetings_total
        if total is not None:
            lit = self._assumption(
                Rule("event_cap", (), f"the event may hold at most {total} meetings")
            )
            model.add(sum(held.values()) <= total).only_enforce_if(lit)

    def _order(self, w: Wish) -> None:
        position = self.index.slot_position
        for earlier in w.after:
            if earlier not in self.held:
                continue  # an optional wish need not be held, so it cannot force a conflict
            lit = self._assumption(
                Rule("precedence", (earlier, w.id), f"wish {w.id} must come after wish {earlier}")
            )
            late = sum(position[s] * v for _, s, v in self._options(w.id))
            early = sum(position[s] * v for _, s, v in self._options(earlier))
            self.model.add(late >= early + 1).only_enforce_if(
                [lit, self.held[w.id], self.held[earlier]]
            )

    def _solve(
        self, assumptions: list[int], seconds: float
    ) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver]:
        self.model.clear_assumptions()
        self.model.add_assumptions([self.literals[a] for a in assumptions])
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(seconds, 0.01)
        # Cores from assumptions are reported by the sequential search.
        solver.parameters.num_workers = 1
        return solver.solve(self.model), solver

    def _infeasible_core(self, assumptions: list[int], seconds: float) -> list[int] | None:
        """The assumptions of a core when infeasible under `assumptions`, else None."""
        status, solver = self._solve(assumptions, seconds)
        if status != cp_model.INFEASIBLE:
            return None
        return list(solver.sufficient_assumptions_for_infeasibility())

    def minimal_conflicts(self, time_limit_seconds: float) -> list[Conflict]:
        deadline = time.monotonic() + time_limit_seconds
        status, solver = self._solve(list(self.rules), time_limit_seconds / 2)
        d = self.index.problem.max_break_difference
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and d is not None:
            if self._breaks_within(solver, d):
                return []
            # The required meetings fit, just not this way: bring in the break limit.
            self._add_break_limit(d)
            left = max(deadline - time.monotonic(), 0.01)
            status, solver = self._solve(list(self.rules), left / 2)
        if status != cp_model.INFEASIBLE:
            return []
        core = list(solver.sufficient_assumptions_for_infeasibility())
        return self._conflicts(self._minimise(core, deadline))

    def _minimise(self, core: list[int], deadline: float) -> list[int]:
        """Deletion-based minimisation: drop each member whose absence keeps it infeasible."""
        kept: list[int] = []
        pending = list(core)
        while pending:
            candidate = pending.pop()
            left = deadline - time.monotonic()
            if left <= 0:
                return [*kept, candidate, *pending]
            smaller = self._infeasible_core(kept + pending, min(left, 1.0))
            if smaller is None:
                kept.append(candidate)
            else:
                pending = [a for a in pending if a in smaller]
                kept = [a for a in kept if a in smaller]
        return kept

    def _breaks_within(self, solver: cp_model.CpSolver, d: int) -> bool:
        busy: dict[str, set[str]] = defaultdict(set)
        for (wid, partner, slot), v in self.x.items():
            if solver.value(v):
                busy[self.index.wishes[wid].sender].add(slot)
                busy[partner].add(slot)
        breaks = [count_breaks(self.index, slots) for slots in busy.values()]
        return not breaks or max(breaks) - min(breaks) <= d

    def _add_break_limit(self, d: int) -> None:
        """Breaks per participant (runs of meetings per day minus one on days it meets,
        solver/runs.py) and the limit: over participants with a meeting, most breaks minus
        fewest is at most d."""
        model, n = self.model, len(self.index.problem.slots)
        most = model.new_int_var(0, n, "most_breaks")
        fewest = model.new_int_var(0, n, "fewest_breaks")
        for person, by_slot in self.busy.items():
            breaks: list[cp_model.LinearExprT] = []
            days_met: list[cp_model.IntVar] = []
            for day in self.index.days:
                busy = [busy_literal(model, by_slot[s]) if by_slot.get(s) else None for s in day]
                if all(b is None for b in busy):
                    continue
                runs = day_runs(model, busy)
                breaks.append(runs.breaks)
                days_met.append(runs.meets_today)
            has_meeting = model.new_bool_var(f"has_{person}")
            model.add_max_equality(has_meeting, days_met)
            model.add(most >= sum(breaks))
            model.add(fewest <= sum(breaks)).only_enforce_if(has_meeting)
        lit = self._assumption(
            Rule(
                "max_break_difference",
                (),
                f"no participant may have more than {d} breaks above the one with fewest",
            )
        )
        model.add(most - fewest <= d).only_enforce_if(lit)

    def _conflicts(self, core: list[int]) -> list[Conflict]:
        rules = [self.rules[a] for a in core]
        wishes = sorted(w for r in rules if r.rule == "required" for w in r.wishes)
        listed = ", ".join(wishes)
        others = sorted((r for r in rules if r.rule != "required"), key=lambda r: r.rule)
        if not others:
            return [
                Conflict(
                    tuple(wishes),
                    "one_meeting_per_slot",
                    f"required wishes {listed} cannot all be met: each participant holds one "
                    "meeting per slot and two participants meet once",
                )
            ]
        out = []
        for r in others:
            related = tuple(w for w in wishes if w in r.wishes) if r.wishes else tuple(wishes)
            out.append(
                Conflict(related or tuple(wishes), r.rule, f"{r.detail}; required: {listed}")
            )
        return out
