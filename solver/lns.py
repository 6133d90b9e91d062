"""Large neighbourhood search for the `scheduled` goal on large events.

CP-SAT's own LNS barely moves on the full timetable model of a big event with two workers
(benchmarks/README.md, "Scale"). This loop works around the best schedule instead: it picks a
small group of participants, frees every meeting one of them holds, and asks CP-SAT for the
best way to hold meetings of this group again with everything else fixed. The sub-model only
has the free (meeting, slot) pairs and what the fixed meetings leave of each rule: the partners'
free slots and caps, the locations' remaining capacity per slot, the event cap, the wishes
still to be met. It is a few hundred Booleans, solved in a fraction of a second; an answer is
kept only when it schedules at least as much weight, so the schedule never gets worse.

Neighbourhoods (participants whose meetings are freed):

* *unmet wishes*: a wish that is not met (heavier ones more often; one that the timeless
  relaxation's matching meets while there is one), its sender and the participants who could take
  it, then their partners in meetings they hold or could hold for an unmet wish, breadth
  first, until the group has the wanted size (counted in the (meeting, slot) pairs its
  participants' candidate meetings bring, so that a popular participant counts for more);
* *a slot window*: participants of the meetings held in a few consecutive slots of one
  session.

The size adapts: it grows while sub-models are solved to optimality quickly and shrinks
when they time out. Meetings of wishes with `after` rules stay where they are (the sub-model
does not encode the order), and events with a cap on break differences are left alone: the
breaks rule binds the whole day of a participant, which the sub-model does not see.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from solver.candidates import HOST_PREFIX, ONSITE, Candidates
from solver.check import check, evaluate
from solver.problem import Meeting, Problem, Solution, wish_weights
from solver.tables import placed_meetings

log = logging.getLogger(__name__)

#: Size of a neighbourhood, in (meeting, slot) pairs of its participants' candidate meetings
#: (an upper bound on the sub-model's Booleans): the first one, then adapted within these limits.
START_SIZE = 1_500
MIN_SIZE = 200
MAX_SIZE = 40_000
#: Time limit of one sub-model (seconds, or deterministic time in deterministic mode).
STEP_LIMIT = 0.3
#: Share of the unmet-wish neighbourhoods seeded by a wish the relaxation's matching meets
#: (while there is one; 1.0 measured best on trade-fair, benchmarks/README.md).
GUIDED = 1.0
#: Deterministic time counted for a step at least.
MIN_STEP_WORK = 0.001
#: Stop after this share of the time limit without a gain.
STALL_SHARE = 0.3


@dataclass
class LnsStats:
    steps: int = 0
    improved: int = 0
    optimal: int = 0
    start_weight: int = 0
    weight: int = 0
    #: CP-SAT deterministic time used by all sub-models.
    work: float = 0.0
    group_sizes: list[int] = field(default_factory=list)


def applicable(problem: Problem) -> bool:
    """The loop keeps every rule of these events (see the module docstring)."""
    return problem.max_break_difference is None and not problem.published


class _Schedule:
    """The current schedule as candidate meetings in slots, with the counts every rule needs."""

    def __init__(self, problem: Problem, candidates: Candidates, start: Solution) -> None:
        self.problem = problem
        self.candidates = candidates
        self.weight = wish_weights(problem.wishes)
        self.required = {w.id for w in problem.wishes if w.required}
        self.cap: dict[str, int | None] = {
            p.id: p.max_meetings
            if p.max_meetings is not None
            else problem.max_meetings_per_participant
            for p in problem.participants
        }
        #: participant -> candidate meetings (possible ones) it takes part in.
        self.of_person: dict[str, list[int]] = defaultdict(list)
        for m in candidates.meetings:
            if not m.impossible:
                for p in m.participants:
                    self.of_person[p].append(m.index)
        #: participant -> (meeting, slot) pairs its meetings bring into a sub-model (at most).
        self.cost = {
            p: sum(len(candidates.meetings[m].slots) for m in ms)
            for p, ms in self.of_person.items()
        }
        # Meetings of wishes in `after` rules are never moved.
        ordered = {w.id for w in problem.wishes if w.after}
        ordered |= {e for w in problem.wishes for e in w.after}
        self.pinned = {m for w in ordered for m in candidates.by_wish.get(w, [])}
        slot_index = {s.id: i for i, s in enumerate(problem.slots)}
        #: candidate meeting -> (slot index, wishes it meets).
        self.placed: dict[int, tuple[int, tuple[str, ...]]] = {}
        #: participant -> slot -> the meeting it holds then.
        self.busy: dict[str, dict[int, int]] = defaultdict(dict)
        #: wish -> the meeting that meets it.
        self.met_by: dict[str, int] = {}
        #: (location class, slot) -> meetings held there (host meetings also count onsite).
        self.use: dict[tuple[str, int], int] = defaultdict(int)
        for held in start.meetings:
            self.add(self._candidate_of(held), slot_index[held.slot], tuple(held.wishes))

    def _classes(self, m: int) -> tuple[str, ...]:
        where = self.candidates.meetings[m].location_class
        return (where, ONSITE) if where.startswith(HOST_PREFIX) else (where,)

    def add(self, m: int, t: int, wishes: tuple[str, ...]) -> None:
        self.placed[m] = (t, wishes)
        for p in self.candidates.meetings[m].participants:
            self.busy[p][t] = m
        for w in wishes:
            self.met_by[w] = m
        for where in self._classes(m):
            self.use[where, t] += 1

    def remove(self, m: int) -> tuple[int, tuple[str, ...]]:
        t, wishes = self.placed.pop(m)
        for p in self.candidates.meetings[m].participants:
            del self.busy[p][t]
        for w in wishes:
            del self.met_by[w]
        for where in self._classes(m):
            self.use[where, t] -= 1
        return t, wishes

    def _candidate_of(self, meeting: Meeting) -> int:
        pair = frozenset(meeting.participants)
        for wish in meeting.wishes:
            for m in self.candidates.by_wish.get(wish, []):
                if frozenset(self.candidates.meetings[m].participants) == pair:
                    return m
        raise ValueError(f"meeting of {meeting.participants} for {meeting.wishes} has no candidate")

    def shared_rules_hold(self, meetings: dict[int, tuple[int, tuple[str, ...]]]) -> bool:
        """Location capacity in the slots of `meetings`, and the event cap."""
        cap = self.problem.max_meetings_total
        if cap is not None and len(self.placed) > cap:
            return False
        return all(
            self.use[where, t] <= self.candidates.capacity.get(where, 0)
            for m, (t, _) in meetings.items()
            for where in self._classes(m)
        )

    def total_weight(self) -> int:
        return sum(self.weight[w] for _, wishes in self.placed.values() for w in wishes)

    def meetings(self) -> list[Meeting]:
        chosen = [(m, t, list(wishes)) for m, (t, wishes) in self.placed.items()]
        return placed_meetings(self.problem, self.candidates, chosen)


class _Neighbourhoods:
    """Groups of participants to free, drawn with a seeded generator."""

    def __init__(self, schedule: _Schedule, rng: random.Random, guide: frozenset[int]) -> None:
        self.s = schedule
        self.rng = rng
        #: Wishes of the meetings the timeless relaxation chose: those it says can be met.
        self.guide = {
            w
            for m in guide
            for w in schedule.candidates.meetings[m].direct
            + schedule.candidates.meetings[m].optional
        }
        problem = schedule.problem
        self.sessions: list[list[int]] = []
        by_session: dict[str, list[int]] = defaultdict(list)
        for i, slot in enumerate(problem.slots):
            by_session[slot.session].append(i)
        self.sessions = list(by_session.values())
        self.wishes = [w for w in problem.wishes if schedule.candidates.by_wish.get(w.id)]

    def pick(self, size: int) -> set[str]:
        if self.rng.random() < 0.75:
            return self._around_unmet(size)
        return self._slot_window(size)

    def _unmet(self) -> list[str]:
        met = self.s.met_by
        return [w.id for w in self.wishes if w.id not in met]

    def _partners(self, wish: str) -> list[str]:
        out: list[str] = []
        for m in self.s.candidates.by_wish.get(wish, []):
            meeting = self.s.candidates.meetings[m]
            if not meeting.impossible:
                out.extend(meeting.participants)
        return out

    def _around_unmet(self, size: int) -> set[str]:
        unmet = self._unmet()
        if self.guide and self.rng.random() < GUIDED:
            unmet = [w for w in unmet if w in self.guide] or unmet
        if not unmet:
            return self._slot_window(size)
        weights = [self.s.weight[w] for w in unmet]
        seed = self.rng.choices(unmet, weights)[0]
        group: set[str] = set()
        frontier = list(dict.fromkeys(self._partners(seed)))
        candidates, placed, met = self.s.candidates, self.s.placed, self.s.met_by
        cost = 0
        while frontier and (cost < size or len(group) < 2):
            person = frontier.pop(0)
            if person in group:
                continue
            group.add(person)
            cost += self.s.cost.get(person, 0)
            # Its partners in meetings it holds and in meetings for wishes not met yet.
            near: list[str] = []
            for m in self.s.of_person[person]:
                meeting = candidates.meetings[m]
                if m in placed or any(w not in met for w in meeting.direct + meeting.optional):
                    near.extend(p for p in meeting.participants if p != person)
            self.rng.shuffle(near)
            frontier.extend(p for p in near if p not in group)
        return group

    def _slot_window(self, size: int) -> set[str]:
        session = self.rng.choice(self.sessions)
        width = min(len(session), self.rng.choice((2, 3, 4)))
        first = self.rng.randrange(len(session) - width + 1)
        window = set(session[first : first + width])
        people = [
            p
            for m, (t, _) in self.s.placed.items()
            if t in window
            for p in self.s.candidates.meetings[m].participants
        ]
        self.rng.shuffle(people)
        group: set[str] = set()
        cost = 0
        for person in people:
            if cost >= size:
                break
            if person not in group:
                group.add(person)
                cost += self.s.cost.get(person, 0)
        return group


def improve(
    problem: Problem,
    candidates: Candidates,
    start: Solution,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    deterministic: bool = False,
    bound: int | None = None,
    chosen: frozenset[int] = frozenset(),
) -> tuple[Solution, LnsStats]:
    """A schedule at least as heavy as `start`, found within about `time_limit` seconds (of
    deterministic time in deterministic mode). Returns `start` itself when nothing better is
    found or the event has rules the loop does not keep. `chosen` (candidate meetings of the
    timeless relaxation's matching) steers the neighbourhoods to the wishes it meets."""
    stats = LnsStats()
    if not applicable(problem) or (not start.meetings and not problem.wishes):
        return start, stats
    schedule = _Schedule(problem, candidates, start)
    stats.start_weight = stats.weight = schedule.total_weight()
    rng = random.Random(seed)
    picker = _Neighbourhoods(schedule, rng, chosen)
    started = time.monotonic()
    size = START_SIZE

    def used() -> float:
        return stats.work if deterministic else time.monotonic() - started

    last_gain = 0.0
    # Sub-models of groups that share no participant are solved at the same time, one
    # CP-SAT worker each (measured better than two workers on one sub-model).
    parallel = 1 if deterministic else max(workers, 1)
    while used() < time_limit and (bound is None or stats.weight < bound):
        if used() - last_gain > STALL_SHARE * time_limit:
            break  # no gain for a long while: leave the time to the goals after this one
        subs = _disjoint_subs(schedule, picker, size, parallel)
        if not subs:
            stats.steps += 1
            stats.work += MIN_STEP_WORK
            continue
        limit = min(STEP_LIMIT, max(time_limit - used(), 0.01))
        outcomes = _solve_all(subs, limit, seed + stats.steps, deterministic)
        for sub, outcome in zip(subs, outcomes, strict=True):
            stats.steps += 1
            stats.group_sizes.append(len(sub.group))
            # Tiny sub-models take no measurable deterministic time: count a floor so that
            # the loop ends in deterministic mode too.
            stats.work += max(outcome.work, MIN_STEP_WORK)
            if outcome.optimal:
                stats.optimal += 1
            # Answers of equal weight are kept too: moving sideways opens other neighbourhoods.
            if sub.keep(outcome) and outcome.gain > 0:
                stats.improved += 1
                stats.weight += outcome.gain
                last_gain = used()
        if all(o.optimal for o in outcomes):
            size = min(MAX_SIZE, size + size // 8)
        elif not any(o.optimal for o in outcomes):
            size = max(MIN_SIZE, size - size // 4)
    log.info(
        "LNS: %d steps (%d better, %d optimal), weight %d -> %d, %.1f s",
        stats.steps,
        stats.improved,
        stats.optimal,
        stats.start_weight,
        stats.weight,
        time.monotonic() - started,
    )
    if stats.weight <= stats.start_weight:
        return start, stats
    meetings = schedule.meetings()
    from solver.explain import explain_unscheduled

    better = Solution(
        status="feasible",
        objective=evaluate(problem, meetings),
        solve_seconds=round(time.monotonic() - started, 3),
        meetings=meetings,
        unscheduled=list(explain_unscheduled(problem, meetings)),
    )
    if check(problem, better).violations:
        # The checker has the last word; a bug here must not cost the caller its schedule.
        return start, stats
    return better, stats


@dataclass
class _Outcome:
    #: Whether the sub-model gave an answer (it never weighs less than the freed meetings).
    found: bool = False
    gain: int = 0
    optimal: bool = False
    work: float = 0.0
    #: The free meetings held in the answer: meeting -> (slot, wishes met).
    placed: dict[int, tuple[int, tuple[str, ...]]] = field(default_factory=dict)


def _disjoint_subs(s: _Schedule, picker: _Neighbourhoods, size: int, count: int) -> list[_Sub]:
    """Up to `count` sub-models whose meetings share no participant (a few tries each)."""
    subs: list[_Sub] = []
    taken: set[str] = set()
    for _ in range(3 * count):
        if len(subs) == count:
            break
        group = picker.pick(size)
        if not group or group & taken:
            continue
        sub = _build(s, group)
        if sub is None or sub.touched & taken:
            continue
        subs.append(sub)
        taken |= sub.touched
    return subs


def _solve_all(subs: list[_Sub], limit: float, seed: int, deterministic: bool) -> list[_Outcome]:
    """Solve the sub-models side by side (CP-SAT releases the interpreter lock)."""
    if len(subs) == 1:
        return [subs[0].solve(limit, seed, deterministic)]
    outcomes: list[_Outcome | None] = [None] * len(subs)

    def run(i: int) -> None:
        outcomes[i] = subs[i].solve(limit, seed + i, deterministic)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(subs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [o if o is not None else _Outcome() for o in outcomes]


@dataclass
class _Sub:
    """The sub-model of one group: its free meetings, with everything else fixed."""

    schedule: _Schedule
    group: set[str]
    model: cp_model.CpModel
    #: Participants of the free meetings (all other meetings of theirs are fixed).
    touched: set[str]
    freed: set[int]
    before: int
    at: dict[tuple[int, int], cp_model.IntVar]
    meets: dict[tuple[str, int], cp_model.IntVar]

    def solve(self, limit: float, seed: int, deterministic: bool) -> _Outcome:
        solver = cp_model.CpSolver()
        parameters = solver.parameters
        parameters.random_seed = seed
        parameters.max_time_in_seconds = limit
        parameters.num_workers = 1
        if deterministic:
            parameters.max_deterministic_time = limit
        status = solver.solve(self.model)
        outcome = _Outcome(work=solver.deterministic_time)
        outcome.optimal = status == cp_model.OPTIMAL
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return outcome
        outcome.found = True
        outcome.gain = round(solver.objective_value) - self.before
        candidates = self.schedule.candidates
        for (m, t), x in self.at.items():
            if solver.boolean_value(x):
                meeting = candidates.meetings[m]
                wishes = tuple(
                    w
                    for w in meeting.direct + meeting.optional
                    if (w, m) in self.meets and solver.boolean_value(self.meets[w, m])
                )
                outcome.placed[m] = (t, wishes)
        return outcome

    def keep(self, outcome: _Outcome) -> bool:
        """Put the sub-model's answer into the schedule when it weighs no less and, next to the
        answers of the other groups solved at the same time, keeps the shared rules (location
        capacity per slot, the event cap)."""
        # Answers of equal weight are kept too: they move the schedule sideways.
        if not outcome.found or outcome.gain < 0:
            return False
        s = self.schedule
        old = {m: s.remove(m) for m in self.freed}
        for m, (t, wishes) in outcome.placed.items():
            s.add(m, t, wishes)
        if s.shared_rules_hold(outcome.placed):
            return True
        for m in outcome.placed:
            s.remove(m)
        for m, (t, wishes) in old.items():
            s.add(m, t, wishes)
        return False


def _build(s: _Schedule, group: set[str]) -> _Sub | None:
    """Free every meeting of `group`; the sub-model places the best set of them again."""
    # Pinned meetings stay fixed, held or not; every other meeting of the group is free.
    free = {m for p in group for m in s.of_person[p] if m not in s.pinned}
    if not free:
        return None
    left = _Leftover(s, free)
    sub = _SubModel(s)
    for m in sorted(free):
        if not sub.add_meeting(m, left):
            return None  # cannot happen for a valid schedule; never lose a meeting
    sub.add_rules(left)
    before = sum(s.weight[w] for m in left.freed for w in s.placed[m][1])
    sub.finish(before)
    return _Sub(s, group, sub.model, left.touched, left.freed, before, sub.at, sub.meets)


class _Leftover:
    """What the fixed meetings leave to the free ones: the touched participants' free slots and
    caps, the locations' room per slot, the event cap."""

    def __init__(self, s: _Schedule, free: set[int]) -> None:
        candidates = s.candidates
        self.schedule = s
        self.free = free
        #: Free meetings held now (the sub-model may place them again, or others instead).
        self.freed = {m for m in free if m in s.placed}
        #: Participants of the free meetings (all other meetings of theirs are fixed).
        self.touched = {p for m in free for p in candidates.meetings[m].participants}
        #: (participant, slot) taken by a fixed meeting.
        self.busy = {
            (p, t)
            for p in self.touched
            for t, m in s.busy.get(p, {}).items()
            if m not in self.freed
        }
        #: participant -> fixed meetings it holds.
        self.held_by: dict[str, int] = defaultdict(int)
        for p, _ in self.busy:
            self.held_by[p] += 1
        #: (location class, slot) -> fixed meetings held there.
        self.used = defaultdict(int, s.use)
        for m in self.freed:
            t = s.placed[m][0]
            for where in s._classes(m):
                self.used[where, t] -= 1
        self.fixed_count = len(s.placed) - len(self.freed)

    def room(self, where: str, t: int) -> bool:
        capacity = self.schedule.candidates.capacity
        if capacity.get(where, 0) - self.used[where, t] <= 0:
            return False
        return not where.startswith(HOST_PREFIX) or capacity[ONSITE] - self.used[ONSITE, t] > 0

    def options(self, m: int) -> tuple[tuple[str, ...], list[int]]:
        """The wishes free meeting m can still meet (those a fixed meeting meets are met
        already) and the slots where it fits with the fixed meetings and suits one of them."""
        s = self.schedule
        meeting = s.candidates.meetings[m]
        wishes = tuple(
            w for w in meeting.direct + meeting.optional if s.met_by.get(w, m) in self.free
        )
        slots = [
            t
            for t in meeting.slots
            if all((p, t) not in self.busy for p in meeting.participants)
            and self.room(meeting.location_class, t)
            and any(t in s.candidates.wish_slots[w] for w in wishes)
        ]
        return wishes, slots


class _SubModel:
    """The CP-SAT model of one neighbourhood, built meeting by meeting, with the current
    schedule as its hint."""

    def __init__(self, s: _Schedule) -> None:
        self.schedule = s
        self.model = cp_model.CpModel()
        self.at: dict[tuple[int, int], cp_model.IntVar] = {}
        self.held: dict[int, cp_model.IntVar] = {}
        self.meets: dict[tuple[str, int], cp_model.IntVar] = {}
        self.by_person_slot: dict[tuple[str, int], list[cp_model.IntVar]] = defaultdict(list)
        self.by_class_slot: dict[tuple[str, int], list[cp_model.IntVar]] = defaultdict(list)
        self.by_person: dict[str, list[cp_model.IntVar]] = defaultdict(list)
        self.by_wish: dict[str, list[cp_model.IntVar]] = defaultdict(list)
        self.terms: list[cp_model.LinearExprT] = []
        self.hint: list[tuple[cp_model.IntVar, int]] = []

    def add_meeting(self, m: int, left: _Leftover) -> bool:
        """Variables of free meeting m; False when it is held now and has nowhere to go."""
        s, model = self.schedule, self.model
        meeting = s.candidates.meetings[m]
        wishes, slots = left.options(m)
        current = s.placed.get(m)
        if not wishes or not slots:
            return current is None
        h = model.new_bool_var(f"held[{m}]")
        self.held[m] = h
        slot_vars = []
        for t in slots:
            x = model.new_bool_var(f"at[{m},{t}]")
            self.at[m, t] = x
            slot_vars.append(x)
            self.hint.append((x, int(current is not None and current[0] == t)))
            for p in meeting.participants:
                self.by_person_slot[p, t].append(x)
            where = meeting.location_class
            self.by_class_slot[where, t].append(x)
            if where.startswith(HOST_PREFIX):
                self.by_class_slot[ONSITE, t].append(x)
        model.add(sum(slot_vars) == h)
        self.hint.append((h, int(current is not None)))
        for p in meeting.participants:
            self.by_person[p].append(h)
        if len(wishes) == 1 and meeting.direct == list(wishes):
            self.meets[wishes[0], m] = h
            self.by_wish[wishes[0]].append(h)
            self.terms.append(s.weight[wishes[0]] * h)
            return True
        literals = []
        for w in wishes:
            lit = model.new_bool_var(f"meets[{w},{m}]")
            model.add_implication(lit, h)
            allowed = s.candidates.wish_slots[w]
            for t in slots:
                if t not in allowed:
                    model.add_implication(lit, self.at[m, t].Not())
            self.meets[w, m] = lit
            self.by_wish[w].append(lit)
            self.terms.append(s.weight[w] * lit)
            literals.append(lit)
            self.hint.append((lit, int(current is not None and w in current[1])))
        model.add_bool_or(literals).only_enforce_if(h)
        return True

    def add_rules(self, left: _Leftover) -> None:
        """Each rule on what the fixed meetings leave: one meeting per participant and slot,
        location capacity, participant and event caps, wishes met once, required ones met."""
        s, model = self.schedule, self.model
        for literals in self.by_person_slot.values():
            if len(literals) > 1:
                model.add_at_most_one(literals)
        for (where, t), literals in self.by_class_slot.items():
            room = s.candidates.capacity.get(where, 0) - left.used[where, t]
            if len(literals) > room:
                model.add(sum(literals) <= room)
        for p, literals in self.by_person.items():
            cap = s.cap.get(p)
            if cap is not None and len(literals) > cap - left.held_by[p]:
                model.add(sum(literals) <= cap - left.held_by[p])
        if s.problem.max_meetings_total is not None:
            model.add(sum(self.held.values()) <= s.problem.max_meetings_total - left.fixed_count)
        for w, literals in self.by_wish.items():
            if len(literals) > 1:
                model.add_at_most_one(literals)
            if w in s.required:
                model.add_bool_or(literals)

    def finish(self, before: int) -> None:
        """Maximise the weight met, never below `before` (what the freed meetings met)."""
        objective = sum(self.terms)
        self.model.add(objective >= before)
        self.model.maximize(objective)
        for var, value in self.hint:
            self.model.add_hint(var, value)
