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
when they time out. With two workers, two threads each build, solve and keep their own
sub-models; one thread's sub-model leaves fixed the meetings of the participants the other's
touches, so their answers never place a meeting of the same participant. A share of these
sub-models (`MATCHED_ONLY`: half, or all of them on the largest events where the LNS schedule
is the answer and the matching is close to its bound, `solve.matched_share`) free only the
group's meetings in the relaxation's matching and those held now, which makes them smaller
and steers them to the set that reaches the bound; the others free every meeting of the
group. An answer of equal weight (a move sideways) is kept only when it adds no break to the
participants it touches. Meetings of wishes with `after` rules stay where they are (the
sub-model does not encode the order), and events with a cap on break differences are left
alone: the breaks rule binds the whole day of a participant, which the sub-model does not
see.

On the largest events the LNS schedule is the answer, so the goals after `scheduled` get a
turn of their own at the end (`polish`): the same sub-models, with the weight they free kept
as a floor, improve in the event's order the goals the loop can see whole in a group —
*fairness* as the number of participants who can meet and hold no meeting at all (a
participant freed with all its meetings, or touched with none fixed, is seen whole), and
*breaks* of every participant the group touches (its fixed meetings count as busy slots).
Its neighbourhoods start around a participant left without a meeting, or one with breaks.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from ortools.sat.python import cp_model

from solver.candidates import HOST_PREFIX, ONSITE, Candidates
from solver.check import check, evaluate
from solver.problem import (
    Meeting,
    Problem,
    Solution,
    breaks_within_days,
    slots_by_day,
    wish_weights,
)
from solver.runs import busy_literal, day_runs
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
#: Goals after `scheduled` that the polish turn improves, by their name in the event's order.
POLISHED = ("fairness", "breaks")
#: Groups drawn around one participant without a meeting before the polish turn gives up
#: (each one larger than the one before).
IDLE_TRIES = 3
#: Share of the two-thread loop's sub-models that free only the meetings the relaxation's
#: matching chooses and those held now: smaller sub-models, steered to the set that reaches the
#: bound (measured on trade-fair and partnering-fair, benchmarks/README.md). The caller passes
#: `MATCHED_ONLY_ALL` on the largest events when the matching is close to its bound
#: (`solve.matched_share`): there every sub-model within the matching met more
#: wishes and left the polish turn more time, while on the cluster event, where the full model
#: follows the LNS, half did better (benchmarks/README.md, "The matching steers the LNS").
MATCHED_ONLY = 0.5
MATCHED_ONLY_ALL = 1.0


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
    #: The polish turn: participants who could meet and hold no meeting, and breaks, before
    #: and after it (None when it did not run).
    idle_before: int | None = None
    idle_after: int | None = None
    breaks_before: int | None = None
    breaks_after: int | None = None


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
        #: Slot indexes day by day, in order (breaks are counted within a day).
        self.days = slots_by_day(problem)

    def idle(self) -> list[str]:
        """Participants who have a possible meeting and hold none."""
        return [p for p in self.of_person if not self.busy.get(p)]

    def breaks(self, person: str, busy: set[int] | None = None) -> int:
        """Breaks of `person` on the current schedule (or busy in `busy`)."""
        slots = set(self.busy.get(person, {})) if busy is None else busy
        return breaks_within_days(self.days, slots)

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
        #: Polish turn: how often a group was drawn around each participant without a meeting.
        self.tries: dict[str, int] = defaultdict(int)

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
        return self._grow(list(dict.fromkeys(self._partners(seed))), size)

    def pick_for_goals(self, size: int, goals: tuple[str, ...]) -> set[str]:
        """A group for the polish turn: around someone without a meeting (first, when
        fairness comes first), around someone with breaks, or a slot window."""
        idle = self.s.idle() if "fairness" in goals else []
        # Someone still without a meeting after a few groups around them is most likely
        # left out by the rules (the explanation says why): the time goes to the others.
        idle = [p for p in idle if self.tries[p] < IDLE_TRIES]
        if idle and (goals[0] == "fairness" or self.rng.random() < 0.5):
            person = self.rng.choice(idle)
            self.tries[person] += 1
            # Each new try looks further around them: feeding them may take a longer chain
            # of moves than a group of the usual size holds.
            return self._grow([person], size * self.tries[person])
        if "breaks" in goals:
            people = list(self.s.busy)
            for _ in range(20):
                person = self.rng.choice(people)
                if len(self.s.busy[person]) > 1 and self.s.breaks(person) > 0:
                    return self._grow([person], size)
        return self._slot_window(size)

    def _grow(self, frontier: list[str], size: int) -> set[str]:
        """`frontier` and, breadth first, partners in meetings they hold or could hold for a
        wish not met yet, until the group brings `size` (meeting, slot) pairs."""
        group: set[str] = set()
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
    polish: float = 0.0,
    matched_only: float = MATCHED_ONLY,
) -> tuple[Solution, LnsStats]:
    """A schedule at least as heavy as `start`, found within about `time_limit` seconds (of
    deterministic time in deterministic mode). Returns `start` itself when nothing better is
    found or the event has rules the loop does not keep. `chosen` (candidate meetings of the
    timeless relaxation's matching) steers the neighbourhoods to the wishes it meets, and
    `matched_only` is the share of the two-thread sub-models held within it (`MATCHED_ONLY`).
    `polish` is the share of the time kept for the goals after `scheduled` (the polish turn
    of the module docstring; it also gets what the weight leaves when it stops early)."""
    stats = LnsStats()
    if not applicable(problem) or (not start.meetings and not problem.wishes):
        return start, stats
    schedule = _Schedule(problem, candidates, start)
    stats.start_weight = stats.weight = schedule.total_weight()
    rng = random.Random(seed)
    picker = _Neighbourhoods(schedule, rng, chosen)
    started = time.monotonic()
    goals = _polished_goals(problem) if polish > 0 else ()
    weight_limit = time_limit * (1 - polish) if goals else time_limit

    def used() -> float:
        return stats.work if deterministic else time.monotonic() - started

    loop = _WeightLoop(schedule, picker, stats, weight_limit, bound, used, chosen, matched_only)
    two_threads = not deterministic and workers >= 2
    if two_threads:
        loop.side_by_side(workers, seed)
    else:
        loop.in_turns(seed, deterministic)
    log.info(
        "LNS: %d steps (%d better, %d optimal), weight %d -> %d, %.1f s, %.0f %% of "
        "sub-models within the matching",
        stats.steps,
        stats.improved,
        stats.optimal,
        stats.start_weight,
        stats.weight,
        time.monotonic() - started,
        100 * matched_only if chosen and two_threads else 0,
    )
    polished = False
    if goals:
        left = time_limit - used()
        # Sub-models of groups that share no participant are solved at the same time, one
        # CP-SAT worker each (measured better than two workers on one sub-model).
        parallel = 1 if deterministic else max(workers, 1)
        polished = _polish(schedule, goals, stats, left, parallel, seed, deterministic)
    if stats.weight <= stats.start_weight and not polished:
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


class _WeightLoop:
    """The loop of `improve` on the weight: neighbourhoods freed and placed again until the
    time is used, the bound reached, or nothing was gained for a while."""

    def __init__(
        self,
        schedule: _Schedule,
        picker: _Neighbourhoods,
        stats: LnsStats,
        limit: float,
        bound: int | None,
        used: Callable[[], float],
        chosen: frozenset[int] = frozenset(),
        matched_only: float = MATCHED_ONLY,
    ) -> None:
        self.schedule = schedule
        self.picker = picker
        self.stats = stats
        self.limit = limit
        self.bound = bound
        self.used = used
        #: Candidate meetings of the relaxation's matching, and the share of sub-models
        #: held within it (see MATCHED_ONLY).
        self.chosen = chosen
        self.matched_only = matched_only
        self.size = START_SIZE
        self.last_gain = 0.0

    def going(self) -> bool:
        if self.used() >= self.limit:
            return False
        if self.bound is not None and self.stats.weight >= self.bound:
            return False
        # No gain for a long while: leave the time to the goals after this one.
        return self.used() - self.last_gain <= STALL_SHARE * self.limit

    def record(self, sub: _Sub, outcome: _Outcome) -> None:
        """Count the step and keep its answer when it weighs no less."""
        stats = self.stats
        stats.steps += 1
        stats.group_sizes.append(len(sub.group))
        # Tiny sub-models take no measurable deterministic time: count a floor so that the
        # loop ends in deterministic mode too.
        stats.work += max(outcome.work, MIN_STEP_WORK)
        if outcome.optimal:
            stats.optimal += 1
        # Answers of equal weight are kept too: moving sideways opens other neighbourhoods.
        if sub.keep(outcome) and outcome.gain > 0:
            stats.improved += 1
            stats.weight += outcome.gain
            self.last_gain = self.used()

    def adapt(self, outcomes: list[_Outcome]) -> None:
        """Larger groups while sub-models are proven optimal, smaller when none is."""
        if all(o.optimal for o in outcomes):
            self.size = min(MAX_SIZE, self.size + self.size // 8)
        elif not any(o.optimal for o in outcomes):
            self.size = max(MIN_SIZE, self.size - self.size // 4)

    def step_limit(self) -> float:
        return min(STEP_LIMIT, max(self.limit - self.used(), 0.01))

    def in_turns(self, seed: int, deterministic: bool) -> None:
        """One sub-model at a time (deterministic mode, or one worker)."""
        stats = self.stats
        while self.going():
            subs = _disjoint_subs(self.schedule, partial(self.picker.pick, self.size), 1)
            if not subs:
                stats.steps += 1
                stats.work += MIN_STEP_WORK
                continue
            outcome = subs[0].solve(self.step_limit(), seed + stats.steps, deterministic)
            self.record(subs[0], outcome)
            self.adapt([outcome])

    def side_by_side(self, workers: int, seed: int) -> None:
        """`workers` threads, each building its sub-model, solving it on one CP-SAT worker
        and keeping its answer in turn. CP-SAT releases the interpreter lock while it
        solves, so one thread builds (in Python) while another solves. Waiting for two
        groups that share no participant kept one core busy on trade-fair: no such second
        group was ever found (benchmarks/README.md). A sub-model is built under the lock
        with the meetings of the participants the others are solving left fixed, so that
        two answers never place a meeting of the same participant; location capacity and
        the event cap, which they share, are checked again when an answer is kept
        (`_Sub.keep`)."""
        lock = threading.Lock()
        #: thread -> participants its sub-model in flight touches.
        solving: dict[int, set[str]] = {}

        failed: list[BaseException] = []

        def run(worker: int) -> None:
            try:
                steps(worker)
            except BaseException as error:  # re-raised in the calling thread
                failed.append(error)

        def steps(worker: int) -> None:
            while True:
                with lock:
                    if not self.going():
                        return
                    others = set().union(*(t for w, t in solving.items() if w != worker))
                    group = self.picker.pick(self.size) - others
                    within = (
                        self.chosen
                        if self.chosen and self.picker.rng.random() < self.matched_only
                        else None
                    )
                    sub = (
                        _build(self.schedule, group, exclude=others, within=within)
                        if group
                        else None
                    )
                    if sub is None:
                        self.stats.steps += 1
                        continue
                    solving[worker] = sub.touched
                    step_seed = seed + self.stats.steps + worker
                    limit = self.step_limit()
                outcome = sub.solve(limit, step_seed, False)
                with lock:
                    solving.pop(worker, None)
                    self.record(sub, outcome)
                    self.adapt([outcome])

        threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failed:
            raise failed[0]


def _polished_goals(problem: Problem) -> tuple[str, ...]:
    """The goals after `scheduled` that the polish turn improves, in the event's order."""
    order = list(problem.objective)
    if "scheduled" not in order:
        return ()
    after = order[order.index("scheduled") + 1 :]
    return tuple(g for g in after if g in POLISHED)


def _polish(
    s: _Schedule,
    goals: tuple[str, ...],
    stats: LnsStats,
    time_limit: float,
    parallel: int,
    seed: int,
    deterministic: bool,
) -> bool:
    """The polish turn: sub-models that keep the weight they free and improve `goals` in
    order. Returns whether the schedule changed for the better."""
    idle = len(s.idle())
    breaks = sum(s.breaks(p) for p in s.of_person)
    stats.idle_before, stats.breaks_before = idle, breaks
    rng = random.Random(seed + 1)
    picker = _Neighbourhoods(s, rng, frozenset())
    started, work = time.monotonic(), 0.0
    size = START_SIZE // 2
    better = False
    steps = 0

    def used() -> float:
        return work if deterministic else time.monotonic() - started

    def to_do() -> int:
        return idle * ("fairness" in goals) + breaks * ("breaks" in goals)

    while used() < time_limit and to_do() > 0:
        subs = _disjoint_subs(s, partial(picker.pick_for_goals, size, goals), parallel, goals)
        if not subs:
            work += MIN_STEP_WORK
            steps += 1
            continue
        limit = min(STEP_LIMIT, max(time_limit - used(), 0.01))
        outcomes = _solve_all(subs, limit, seed + steps, deterministic)
        for sub, outcome in zip(subs, outcomes, strict=True):
            steps += 1
            work += max(outcome.work, MIN_STEP_WORK)
            was = sum(s.breaks(p) for p in sub.touched)
            if sub.keep(outcome):
                stats.weight += outcome.gain
                breaks += sum(s.breaks(p) for p in sub.touched) - was
                better = better or outcome.gain > 0 or outcome.goals_gain > 0
        if all(o.optimal for o in outcomes):
            size = min(MAX_SIZE, size + size // 8)
        elif not any(o.optimal for o in outcomes):
            size = max(MIN_SIZE, size - size // 4)
        idle = len(s.idle())
    stats.idle_after, stats.breaks_after = idle, breaks
    log.info(
        "LNS polish: %d steps, without a meeting %d -> %d, breaks %d -> %d, %.1f s",
        steps,
        stats.idle_before,
        idle,
        stats.breaks_before,
        breaks,
        time.monotonic() - started,
    )
    return better


@dataclass
class _Outcome:
    #: Whether the sub-model gave an answer (it never weighs less than the freed meetings).
    found: bool = False
    gain: int = 0
    optimal: bool = False
    work: float = 0.0
    #: The free meetings held in the answer: meeting -> (slot, wishes met).
    placed: dict[int, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    #: In the polish turn: how much the goals after `scheduled` gained (their lexicographic
    #: sum in the group, never negative).
    goals_gain: int = 0


def _disjoint_subs(
    s: _Schedule, pick: Callable[[], set[str]], count: int, goals: tuple[str, ...] = ()
) -> list[_Sub]:
    """Up to `count` sub-models of groups drawn by `pick` whose free meetings share no
    participant (a few tries each): after the first, a group's meetings with a participant
    another sub-model touches stay fixed (`_build`'s `exclude`)."""
    subs: list[_Sub] = []
    taken: set[str] = set()
    for _ in range(3 * count):
        if len(subs) == count:
            break
        group = pick() - taken
        if not group:
            continue
        sub = _build(s, group, goals, exclude=taken)
        if sub is None:
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
    #: The weight the answer meets (the objective, but in the polish turn).
    weight: cp_model.LinearExprT
    #: In the polish turn: the goals' lexicographic sum on the current schedule.
    goals_before: int | None = None
    #: In the polish turn: the factor of the weight in the objective (before the goals).
    weight_factor: int = 0

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
        outcome.gain = solver.value(self.weight) - self.before
        if self.goals_before is not None:
            goals = round(solver.objective_value) - self.weight_factor * solver.value(self.weight)
            outcome.goals_gain = goals - self.goals_before
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
        # A move sideways on the weight alone must not add breaks: the weight loop takes
        # hundreds of them, and each one placed the freed meetings anywhere they fit.
        sideways = outcome.gain == 0 and self.goals_before is None
        was = sum(s.breaks(p) for p in self.touched) if sideways else 0
        old = {m: s.remove(m) for m in self.freed}
        for m, (t, wishes) in outcome.placed.items():
            s.add(m, t, wishes)
        if s.shared_rules_hold(outcome.placed) and (
            not sideways or sum(s.breaks(p) for p in self.touched) <= was
        ):
            return True
        for m in outcome.placed:
            s.remove(m)
        for m, (t, wishes) in old.items():
            s.add(m, t, wishes)
        return False


def _build(
    s: _Schedule,
    group: set[str],
    goals: tuple[str, ...] = (),
    exclude: set[str] | None = None,
    within: frozenset[int] | None = None,
) -> _Sub | None:
    """Free every meeting of `group`; the sub-model places the best set of them again (with
    `goals`, the set best for them that meets no less weight). Meetings with a participant in
    `exclude` (those another sub-model solved at the same time touches) stay fixed, so that
    the two answers never place meetings of one participant. With `within`, only the group's
    meetings in it or held now are free; the others stay out of the sub-model."""
    # Pinned meetings stay fixed, held or not; every other meeting of the group is free.
    meetings = s.candidates.meetings
    free = {
        m
        for p in group
        for m in s.of_person[p]
        if m not in s.pinned
        and not (exclude and exclude.intersection(meetings[m].participants))
        and (within is None or m in within or m in s.placed)
    }
    if not free:
        return None
    left = _Leftover(s, free)
    sub = _SubModel(s)
    for m in sorted(free):
        if not sub.add_meeting(m, left):
            return None  # cannot happen for a valid schedule; never lose a meeting
    sub.add_rules(left)
    before = sum(s.weight[w] for m in left.freed for w in s.placed[m][1])
    goals_before, factor = None, 0
    if goals:
        goals_before, factor = sub.finish_goals(before, goals, left)
    else:
        sub.finish(before)
    weight = sum(sub.terms)
    return _Sub(
        s,
        group,
        sub.model,
        left.touched,
        left.freed,
        before,
        sub.at,
        sub.meets,
        weight,
        goals_before,
        factor,
    )


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
        #: participant -> slots taken by its fixed meetings (the same pairs as `busy`).
        self.busy_slots: dict[str, set[int]] = defaultdict(set)
        for p, t in self.busy:
            self.busy_slots[p].add(t)
        #: (location class, slot) -> fixed meetings held there.
        self.used = defaultdict(int, s.use)
        for m in self.freed:
            t = s.placed[m][0]
            for where in s._classes(m):
                self.used[where, t] -= 1
        self.fixed_count = len(s.placed) - len(self.freed)
        #: location class -> slots without room left (filled on first use).
        self._full: dict[str, set[int]] = {}

    def room(self, where: str, t: int) -> bool:
        return t not in self.full(where)

    def full(self, where: str) -> set[int]:
        """Slots where a meeting of location class `where` finds no room."""
        if where not in self._full:
            capacity = self.schedule.candidates.capacity
            slots = range(len(self.schedule.problem.slots))
            full = {t for t in slots if capacity.get(where, 0) - self.used[where, t] <= 0}
            if where.startswith(HOST_PREFIX):
                full |= {t for t in slots if capacity[ONSITE] - self.used[ONSITE, t] <= 0}
            self._full[where] = full
        return self._full[where]

    def options(self, m: int) -> tuple[tuple[str, ...], list[int]]:
        """The wishes free meeting m can still meet (those a fixed meeting meets are met
        already) and the slots where it fits with the fixed meetings and suits one of them."""
        s = self.schedule
        meeting = s.candidates.meetings[m]
        all_wishes = meeting.direct + meeting.optional
        wishes = tuple(w for w in all_wishes if s.met_by.get(w, m) in self.free)
        if not wishes:
            return wishes, []
        blocked = set(self.full(meeting.location_class))
        for p in meeting.participants:
            blocked |= self.busy_slots.get(p, set())
        slots = [t for t in meeting.slots if t not in blocked]
        if len(wishes) < len(all_wishes):
            # The candidate's slots suit one of all its wishes; keep those of the ones left.
            wish_slots = s.candidates.wish_slots
            slots = [t for t in slots if any(t in wish_slots[w] for w in wishes)]
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
        #: The current schedule, as the variables' indexes that are true now and those that
        #: are false (written into the model's hint in one go: one call per variable costs
        #: as much as creating it).
        self.hint_true: list[int] = []
        self.hint_false: list[int] = []

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
        where = meeting.location_class
        classes = (where, ONSITE) if where.startswith(HOST_PREFIX) else (where,)
        a, b = meeting.participants
        now = current[0] if current is not None else None
        by_person_slot, by_class_slot = self.by_person_slot, self.by_class_slot
        slot_vars = []
        for t in slots:
            x = model.new_bool_var(f"at[{m},{t}]")
            self.at[m, t] = x
            slot_vars.append(x)
            (self.hint_true if t == now else self.hint_false).append(x.index)
            by_person_slot[a, t].append(x)
            by_person_slot[b, t].append(x)
            for c in classes:
                by_class_slot[c, t].append(x)
        # Held in exactly one of its slots, or not held.
        model.add_exactly_one([*slot_vars, ~h])
        (self.hint_true if current is not None else self.hint_false).append(h.index)
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
            met = current is not None and w in current[1]
            (self.hint_true if met else self.hint_false).append(lit.index)
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
        self.add_hint()

    def finish_goals(self, before: int, goals: tuple[str, ...], left: _Leftover) -> tuple[int, int]:
        """Meet no less weight than `before` and improve, in the event's order, the weight and
        then `goals`, never ending lexicographically below the current schedule. Returns the
        goals' lexicographic sum now and the factor of the weight in the objective."""
        self.model.add(sum(self.terms) >= before)
        parts: list[cp_model.LinearExprT] = []
        scales: list[int] = []
        current, scale = 0, 1
        for goal in reversed(goals):
            # Fairness counts up (participants fed), breaks count down.
            sign = 1 if goal == "fairness" else -1
            value, now, span = self._fed(left) if goal == "fairness" else self._breaks(left)
            parts.append(value)
            scales.append(sign * scale)
            current += sign * scale * now
            # One unit of an earlier goal outweighs any change of the later ones.
            scale *= span + 1
        # The goals' sum stays within (-scale, scale): one unit of weight outweighs it all, so
        # a sub-model that can meet more (it rarely can here) does so first.
        factor = 2 * scale
        weight = cp_model.LinearExpr.sum(self.terms)
        objective = cp_model.LinearExpr.weighted_sum([weight, *parts], [factor, *scales])
        self.model.add(objective >= factor * before + current)
        self.model.maximize(objective)
        self.add_hint()
        return current, factor

    def add_hint(self) -> None:
        """The current schedule as the model's hint (every variable of a meeting)."""
        hint = self.model.proto.solution_hint
        hint.vars.extend(self.hint_true)
        hint.values.extend([1] * len(self.hint_true))
        hint.vars.extend(self.hint_false)
        hint.values.extend([0] * len(self.hint_false))

    def _fed(self, left: _Leftover) -> tuple[cp_model.LinearExprT, int, int]:
        """Participants of the group who hold no fixed meeting and hold a free one: the
        variable count, its value now and its range."""
        fed: list[cp_model.IntVar] = []
        now = 0
        for p in sorted(left.touched):
            if left.held_by[p] or not self.by_person.get(p):
                continue
            c = self.model.new_bool_var(f"fed[{p}]")
            self.model.add(c <= sum(self.by_person[p]))
            fed.append(c)
            now += bool(self.schedule.busy.get(p))
        return cp_model.LinearExpr.sum(fed), now, len(fed)

    def _breaks(self, left: _Leftover) -> tuple[cp_model.LinearExprT, int, int]:
        """Breaks of the participants of the free meetings on the days a free meeting may
        change (fixed meetings count as busy slots), their number now and its range."""
        s, model = self.schedule, self.model
        days: list[cp_model.LinearExprT] = []
        now = span = 0
        true: cp_model.IntVar | None = None
        for p in sorted(left.touched):
            held = set(s.busy.get(p, {}))
            for day in s.days:
                if not any((p, t) in self.by_person_slot for t in day):
                    continue
                busy: list[cp_model.IntVar | None] = []
                for t in day:
                    if (p, t) in left.busy:
                        true = true if true is not None else model.new_constant(1)
                        busy.append(true)
                    elif (p, t) in self.by_person_slot:
                        busy.append(busy_literal(model, self.by_person_slot[p, t]))
                    else:
                        busy.append(None)
                days.append(day_runs(model, busy).breaks)
                now += s.breaks(p, held & set(day))
                span += len(day) // 2
        return cp_model.LinearExpr.sum(days), now, span
