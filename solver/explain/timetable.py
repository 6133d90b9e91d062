"""A schedule being built or examined: who is busy when, which locations are used, what the
`after` order and the break limit allow. The greedy schedule, the re-plan start and the reasons
of solver/explain/reasons.py all reason on it."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

from solver.check import EventIndex
from solver.problem import PRIORITY_WEIGHT, Meeting, Wish

#: A required meeting outweighs any number of optional ones when deciding "lost to priority".
_REQUIRED_WEIGHT = 10**6


def wish_weight(wish: Wish) -> int:
    return _REQUIRED_WEIGHT if wish.required else PRIORITY_WEIGHT[wish.priority]


class Timetable:
    """A schedule being built or examined: who is busy when, which locations are used."""

    def __init__(self, index: EventIndex, meetings: Sequence[Meeting] = ()) -> None:
        self.index = index
        self.meetings: list[Meeting] = []
        self.at: dict[tuple[str, str], int] = {}
        self.count: Counter[str] = Counter()
        self.used: Counter[tuple[str, str]] = Counter()
        self.slot_of: dict[str, str] = {}
        #: The meeting of each pair held for wishes that are not separate.
        self.shared: dict[frozenset[str], int] = {}
        self.before: dict[str, list[str]] = defaultdict(list)
        for w in index.problem.wishes:
            for earlier in w.after:
                self.before[earlier].append(w.id)
        self.breaks: dict[str, int] = {}
        self.break_counts: Counter[int] = Counter()
        locations = index.problem.locations
        self.online = [loc for loc in locations if loc.kind == "online"]
        #: Onsite places nobody hosts at come first, so greedy placement keeps host tables free.
        hosted = {p.host_location for p in index.problem.participants}
        self.onsite = sorted(
            (loc for loc in locations if loc.kind != "online"), key=lambda loc: loc.id in hosted
        )
        #: Per slot, how many of `self.onsite` are known to be full (usage only ever grows).
        self.onsite_full: Counter[str] = Counter()
        for m in meetings:
            self.add(m)

    def add(self, meeting: Meeting) -> None:
        i = len(self.meetings)
        self.meetings.append(meeting)
        for p in meeting.participants:
            self.at[(p, meeting.slot)] = i
            self.count[p] += 1
        self.used[(meeting.slot, meeting.location)] += 1
        self._note_wishes(i, meeting.wishes)
        self._update_breaks(meeting.participants)

    def join(self, i: int, wish: str) -> None:
        """Let meeting i meet `wish` too (the other direction of a mutual wish)."""
        old = self.meetings[i]
        self.meetings[i] = replace(old, wishes=(*old.wishes, wish))
        self._note_wishes(i, (wish,))

    def _note_wishes(self, i: int, wishes: Sequence[str]) -> None:
        meeting = self.meetings[i]
        for w in wishes:
            self.slot_of[w] = meeting.slot
            if not self.index.wishes[w].separate:
                self.shared[frozenset(meeting.participants)] = i

    def _update_breaks(self, people: Sequence[str]) -> None:
        if self.index.problem.max_break_difference is None:
            return
        for p in people:
            if p in self.breaks:
                self.break_counts[self.breaks[p]] -= 1
            self.breaks[p] = self._breaks_of(p, None)
            self.break_counts[self.breaks[p]] += 1

    def _breaks_of(self, person: str, extra_slot: str | None) -> int:
        breaks = 0
        for day in self.index.days:
            busy = [i for i, s in enumerate(day) if (person, s) in self.at or s == extra_slot]
            breaks += sum(1 for a, b in itertools.pairwise(busy) if b - a > 1)
        return breaks

    def busy_with(self, person: str, slot: str) -> Meeting | None:
        i = self.at.get((person, slot))
        return None if i is None else self.meetings[i]

    def at_cap(self, person: str) -> bool:
        cap = self.index.cap(person)
        return cap is not None and self.count[person] >= cap

    def event_full(self) -> bool:
        total = self.index.problem.max_meetings_total
        return total is not None and len(self.meetings) >= total

    def free_location(self, slot: str, a: str, b: str) -> str | None:
        """A suitable location with room left in `slot`, or None."""
        index = self.index
        if index.is_online_pair(a, b):
            options = self.online
        else:
            hosts = {index.participants[p].host_location for p in (a, b)} - {None}
            if hosts:
                options = [index.locations[h] for h in hosts if h in index.locations]
                if len(options) != 1 or options[0].kind == "online":
                    return None
            else:
                return self._free_onsite(slot)
        for loc in options:
            if self.used[(slot, loc.id)] < loc.capacity:
                return loc.id
        return None

    def _free_onsite(self, slot: str) -> str | None:
        while self.onsite_full[slot] < len(self.onsite):
            loc = self.onsite[self.onsite_full[slot]]
            if self.used[(slot, loc.id)] < loc.capacity:
                return loc.id
            self.onsite_full[slot] += 1
        return None

    def order_allows(self, wish: Wish, slot: str) -> bool:
        """The `after` rule: held earlier wishes are strictly before, held later ones after."""
        position = self.index.slot_position
        t = position[slot]
        for earlier in wish.after:
            if earlier in self.slot_of and position[self.slot_of[earlier]] >= t:
                return False
        return all(
            position[self.slot_of[later]] > t
            for later in self.before[wish.id]
            if later in self.slot_of
        )

    def breaks_allow(self, a: str, b: str, slot: str) -> bool:
        """Whether a meeting of a and b at `slot` keeps the break difference within d."""
        d = self.index.problem.max_break_difference
        if d is None:
            return True
        counts = self.break_counts.copy()
        for p in (a, b):
            if p in self.breaks:
                counts[self.breaks[p]] -= 1
            counts[self._breaks_of(p, slot)] += 1
        present = [n for n, c in counts.items() if c > 0]
        return max(present) - min(present) <= d


def static_slots(index: EventIndex, wish: Wish, partner: str) -> list[str]:
    """Slots allowed by the wish's session/fixed slot where both sides are available."""
    away = index.participants[wish.sender].unavailable | index.participants[partner].unavailable
    return [s for s in index.allowed_slots(wish) if s not in away]


def any_suitable_location(index: EventIndex, a: str, b: str) -> bool:
    return index.any_suitable_location(a, b)
