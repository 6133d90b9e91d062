"""An exhaustive solver for tiny problems, to test the optimiser and the checker against.

It enumerates every valid schedule (each wish unmet, or met with one partner in one slot),
pruning only by the rules, and returns the lexicographic optimum of the goals as `check`
defines them. Exponential: meant for a handful of wishes and slots.

Locations are assigned per slot after the slots are chosen: the rules that involve locations
(capacity, host, online) are per slot, so whether a slot's meetings fit is Hall's condition on
three kinds of meeting (online, at a host's location, anywhere onsite), and where they go only
matters for the `stability` goal, which is also per slot.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from solver.check import EventIndex, evaluate, meeting_kind
from solver.explain import any_suitable_location, static_slots
from solver.problem import Meeting, Problem, Solution, Wish
from solver.report import objective_key

#: (partner, slot), or None for "not met".
Choice = tuple[str, str] | None


@dataclass
class _Draft:
    """A meeting before its location is chosen."""

    wishes: list[str]
    slot: str
    sender: str
    partner: str


@dataclass
class _State:
    meetings: list[_Draft] = field(default_factory=list)
    at: dict[tuple[str, str], int] = field(default_factory=dict)
    shared: dict[frozenset[str], int] = field(default_factory=dict)
    count: Counter[str] = field(default_factory=Counter)
    kinds: Counter[tuple[str, str]] = field(default_factory=Counter)


def all_schedules(problem: Problem) -> Iterator[list[Meeting]]:
    """Every valid schedule, each with one location assignment (the most stable one)."""
    index = EventIndex(problem)
    yield from _extend(index, _State(), 0)


def brute_force(problem: Problem) -> Solution:
    """The lexicographic optimum by enumeration; `infeasible` when required wishes can't all fit."""
    index = EventIndex(problem)
    best: tuple[tuple[float, ...], list[Meeting], dict[str, float]] | None = None
    for meetings in _extend(index, _State(), 0):
        objective = evaluate(problem, meetings, index)
        key = objective_key(problem, objective)
        if best is None or key > best[0]:
            best = (key, meetings, objective)
    if best is None:
        raise AssertionError("the empty schedule is always valid")
    _, meetings, objective = best
    return Solution(
        status="infeasible" if objective["required"] else "optimal",
        objective=objective,
        meetings=meetings,
    )


def _choices(index: EventIndex, wish: Wish) -> list[Choice]:
    out: list[Choice] = [None]
    for partner in index.candidates(wish):
        if any_suitable_location(index, wish.sender, partner):
            out += [(partner, s) for s in static_slots(index, wish, partner)]
    return out


def _extend(index: EventIndex, state: _State, i: int) -> Iterator[list[Meeting]]:
    wishes = index.problem.wishes
    if i == len(wishes):
        meetings = _finish(index, state)
        if meetings is not None:
            yield meetings
        return
    wish = wishes[i]
    for choice in _choices(index, wish):
        if choice is None:
            yield from _extend(index, state, i + 1)
            continue
        undo = _apply(index, state, wish, *choice)
        if undo is not None:
            yield from _extend(index, state, i + 1)
            undo()


def _apply(
    index: EventIndex, state: _State, wish: Wish, partner: str, slot: str
) -> Callable[[], object] | None:
    """Meet `wish` with partner in slot if the per-slot rules allow; returns an undo function."""
    pair = frozenset((wish.sender, partner))
    shared = None if wish.separate else state.shared.get(pair)
    if shared is not None:
        meeting = state.meetings[shared]
        if meeting.slot != slot:
            return None  # the pair already meets at another time; it meets once
        meeting.wishes.append(wish.id)
        return meeting.wishes.pop
    if any((p, slot) in state.at for p in (wish.sender, partner)):
        return None
    if any(_full(index, state, p) for p in (wish.sender, partner)):
        return None
    total = index.problem.max_meetings_total
    if total is not None and len(state.meetings) >= total:
        return None
    kinds = _location_needs(index, wish.sender, partner)
    for k in kinds:
        state.kinds[(slot, k)] += 1
    if not _locations_fit(index, state, slot):
        for k in kinds:
            state.kinds[(slot, k)] -= 1
        return None
    state.meetings.append(_Draft([wish.id], slot, wish.sender, partner))
    for p in (wish.sender, partner):
        state.at[(p, slot)] = len(state.meetings) - 1
        state.count[p] += 1
    if not wish.separate:
        state.shared[pair] = len(state.meetings) - 1

    def undo() -> None:
        state.meetings.pop()
        for p in (wish.sender, partner):
            del state.at[(p, slot)]
            state.count[p] -= 1
        if not wish.separate:
            del state.shared[pair]
        for k in kinds:
            state.kinds[(slot, k)] -= 1

    return undo


def _full(index: EventIndex, state: _State, person: str) -> bool:
    cap = index.cap(person)
    return cap is not None and state.count[person] >= cap


def _location_needs(index: EventIndex, a: str, b: str) -> list[str]:
    if index.is_online_pair(a, b):
        return ["online"]
    hosts = {index.participants[p].host_location for p in (a, b)} - {None}
    return ["onsite", *(f"host:{h}" for h in hosts)]


def _locations_fit(index: EventIndex, state: _State, slot: str) -> bool:
    """Hall's condition for one slot's meetings and the locations."""
    locations = index.problem.locations
    online = sum(loc.capacity for loc in locations if loc.kind == "online")
    onsite = sum(loc.capacity for loc in locations if loc.kind != "online")
    if state.kinds[(slot, "online")] > online or state.kinds[(slot, "onsite")] > onsite:
        return False
    return all(
        state.kinds[(slot, f"host:{loc.id}")] <= (loc.capacity if loc.kind != "online" else 0)
        for loc in locations
    )


def _finish(index: EventIndex, state: _State) -> list[Meeting] | None:
    """Whole-schedule rules (order, break difference), then locations slot by slot."""
    slot_of = {w: m.slot for m in state.meetings for w in m.wishes}
    position = index.slot_position
    for w, slot in slot_of.items():
        for earlier in index.wishes[w].after:
            if earlier in slot_of and position[slot_of[earlier]] >= position[slot]:
                return None
    if not _breaks_fair(index, state):
        return None
    by_slot: dict[str, list[_Draft]] = defaultdict(list)
    for m in state.meetings:
        by_slot[m.slot].append(m)
    meetings: list[Meeting] = []
    for slot, ms in by_slot.items():
        placed = _place_slot(index, slot, ms)
        if placed is None:
            return None
        meetings += placed
    return meetings


def _breaks_fair(index: EventIndex, state: _State) -> bool:
    d = index.problem.max_break_difference
    if d is None or not state.meetings:
        return True
    busy: dict[str, set[int]] = defaultdict(set)
    for p, slot in state.at:
        busy[p].add(index.slot_position[slot])
    breaks = []
    for positions in busy.values():
        ordered = sorted(positions)
        breaks.append(
            sum(
                1
                for a, b in itertools.pairwise(ordered)
                if b - a > 1 and index.problem.slots[a].day == index.problem.slots[b].day
            )
        )
    return max(breaks) - min(breaks) <= d


def _place_slot(index: EventIndex, slot: str, ms: list[_Draft]) -> list[Meeting] | None:
    """Locations for one slot's meetings, keeping as many published meetings as possible."""
    published = {
        (frozenset(m.participants), m.location): set(m.wishes)
        for m in index.problem.published
        if m.slot == slot
    }
    best: tuple[int, list[Meeting]] | None = None
    options = [
        [
            loc
            for loc in index.problem.locations
            if index.suitable_location(loc, m.sender, m.partner)
        ]
        for m in ms
    ]
    for chosen in itertools.product(*options):
        used = Counter(loc.id for loc in chosen)
        if any(used[loc.id] > loc.capacity for loc in chosen):
            continue
        meetings = [_meeting(index, m, loc.id) for m, loc in zip(ms, chosen, strict=True)]
        kept = sum(
            bool(published.get((frozenset(m.participants), m.location), set()) & set(m.wishes))
            for m in meetings
        )
        if best is None or kept > best[0]:
            best = (kept, meetings)
    return None if best is None else best[1]


def _meeting(index: EventIndex, m: _Draft, location: str) -> Meeting:
    kind = meeting_kind(index.participants[m.sender], index.participants[m.partner])
    return Meeting(tuple(m.wishes), m.slot, location, (m.sender, m.partner), kind)
