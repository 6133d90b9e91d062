"""Why a wish was not scheduled, and which required wishes conflict, derived from the rules.

`explain_unscheduled` asks, for every accepted wish a schedule leaves out, the exact question
"could this wish be added to this schedule with every other meeting left where it is?" and
names the rule that says no. With the other meetings fixed, that question decomposes per
candidate (partner, slot): the slot is blocked by the participants' own meetings, by the full
locations, by the `after` order, or it is free, and then only the caps and the break limit can
refuse it. Answering it by direct reasoning is exact and takes microseconds per wish, so no
solver call is needed even for partnering fairs with thousands of unscheduled wishes.

`find_conflicts` explains an infeasible event: a CP-SAT feasibility model of the required wishes
only, with one assumption literal per required wish and per rule instance (a participant's
cap, its unavailability, a wish's fixed slot or session, an `after` order, the location
capacity, the event cap). CP-SAT's `SufficientAssumptionsForInfeasibility` gives a core, which
deletion-based minimisation shrinks to a small set where every member matters.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from solver.check import EventIndex, count_breaks
from solver.problem import PRIORITY_WEIGHT, Conflict, Meeting, Problem, Unscheduled, Wish

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
        for day in self.index.days.values():
            busy = [i for i, s in enumerate(day) if (person, s) in self.at or s == extra_slot]
            breaks += sum(1 for a, b in zip(busy, busy[1:], strict=False) if b - a > 1)
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
    return any(index.suitable_location(loc, a, b) for loc in index.problem.locations)


@dataclass(frozen=True, slots=True)
class _Placement:
    """One (partner, slot) where the wish could go, and what stands in the way there."""

    partner: str
    slot: str
    busy: tuple[Meeting, ...]
    location_full: bool
    order: bool

    @property
    def free(self) -> bool:
        return not self.busy and not self.location_full and not self.order


def explain_unscheduled(problem: Problem, meetings: Sequence[Meeting]) -> list[Unscheduled]:
    """A reason code and a sentence for every accepted wish that `meetings` leave out."""
    index = EventIndex(problem)
    table = Timetable(index, meetings)
    return [_explain(index, table, wish) for wish in problem.wishes if wish.id not in table.slot_of]


def _explain(index: EventIndex, table: Timetable, wish: Wish) -> Unscheduled:
    reason = (
        _static_reason(index, wish)
        or _already_meeting(index, table, wish)
        or _placement_reason(index, table, wish)
    )
    return Unscheduled(wish.id, reason[0], reason[1])


def _who(index: EventIndex, wish: Wish) -> str:
    if wish.recipient is not None:
        return f"{wish.sender} and {wish.recipient}"
    return f"{wish.sender} and the representatives of {wish.recipient_organisation}"


def _within(wish: Wish) -> str:
    if wish.fixed_slot is not None:
        return f" in slot {wish.fixed_slot}, the time this meeting is fixed to"
    if wish.session is not None:
        return f" in session {wish.session}, the session this meeting must be in"
    return ""


def _static_reason(index: EventIndex, wish: Wish) -> tuple[str, str] | None:
    """Reasons that hold whatever the schedule: nobody to meet, no common time, no place."""
    partners = index.candidates(wish)
    everyone = index.recipients(wish)
    if everyone and not partners:
        return (
            "same_delegation",
            f"{_who(index, wish)} attend with the same delegation "
            f"({index.participants[wish.sender].delegation}), and the event's rule "
            "cross_delegation_only allows meetings between delegations only",
        )
    if not partners:
        return (
            "no_common_slot",
            f"organisation {wish.recipient_organisation} has no other representative "
            f"taking part whom {wish.sender} could meet",
        )
    placeable = [p for p in partners if any_suitable_location(index, wish.sender, p)]
    if not placeable:
        return ("no_suitable_location", _no_location_sentence(index, wish, partners[0]))
    if not any(static_slots(index, wish, p) for p in placeable):
        return (
            "no_common_slot",
            f"{_who(index, wish)} share no slot in which both are available{_within(wish)}",
        )
    return None


def _no_location_sentence(index: EventIndex, wish: Wish, partner: str) -> str:
    if index.is_online_pair(wish.sender, partner):
        return f"{wish.sender} and {partner} must meet online, but the event has no online room"
    hosts = [p for p in (wish.sender, partner) if index.participants[p].host_location]
    if len(hosts) == 2:
        return f"{wish.sender} and {partner} each host meetings at their own, different locations"
    return f"the event has no table or room where {wish.sender} and {partner} can meet"


def _pair_meeting(table: Timetable, wish: Wish, partner: str) -> Meeting | None:
    """The meeting the two already hold for wishes that are not separate (the pair rule)."""
    if wish.separate:
        return None
    i = table.shared.get(frozenset((wish.sender, partner)))
    return None if i is None else table.meetings[i]


def _already_meeting(index: EventIndex, table: Timetable, wish: Wish) -> tuple[str, str] | None:
    """A wish that is not separate cannot add a second meeting between the same two people;
    it can only join the meeting they hold, if that meeting's time suits it."""
    partners = [
        p
        for p in index.candidates(wish)
        if any_suitable_location(index, wish.sender, p) and static_slots(index, wish, p)
    ]
    held = [(p, m) for p in partners if (m := _pair_meeting(table, wish, p)) is not None]
    if not held or len(held) < len(partners):
        return None
    partner, m = held[0]
    if m.slot in index.allowed_slots(wish) and table.order_allows(wish, m.slot):
        return (
            "not_found",
            f"{wish.sender} and {partner} already meet in slot {m.slot} (wish "
            f"{', '.join(m.wishes)}); this wish could have joined that meeting",
        )
    if wish.recipient is None:
        return (
            "organisation_already_met",
            f"{wish.sender} already meets {partner} of organisation "
            f"{wish.recipient_organisation} in slot {m.slot} (wish {', '.join(m.wishes)}), "
            "at a time this wish does not allow",
        )
    return (
        "already_meeting",
        f"{wish.sender} and {partner} already meet in slot {m.slot} for wish "
        f"{', '.join(m.wishes)}, at a time this wish does not allow; a pair meets once",
    )


def _placements(
    index: EventIndex, table: Timetable, wish: Wish, partners: list[str]
) -> list[_Placement]:
    out = []
    for partner in partners:
        for slot in static_slots(index, wish, partner):
            busy = tuple(
                m for p in (wish.sender, partner) if (m := table.busy_with(p, slot)) is not None
            )
            full = table.free_location(slot, wish.sender, partner) is None
            out.append(_Placement(partner, slot, busy, full, not table.order_allows(wish, slot)))
    return out


def _placement_reason(index: EventIndex, table: Timetable, wish: Wish) -> tuple[str, str]:
    # A side at its cap could only take this meeting by dropping another, wherever it goes.
    if table.at_cap(wish.sender):
        return _at_cap(index, wish.sender)
    partners = [
        p
        for p in index.candidates(wish)
        if any_suitable_location(index, wish.sender, p)
        and static_slots(index, wish, p)
        and _pair_meeting(table, wish, p) is None
    ]
    open_partners = [p for p in partners if not table.at_cap(p)]
    if not open_partners:
        return _at_cap(index, partners[0])
    places = _placements(index, table, wish, open_partners)
    free = [pl for pl in places if pl.free]
    if free:
        return _free_but_refused(index, table, wish, free)
    if wish.fixed_slot is not None:
        return (
            "fixed_slot_taken",
            _blocked_sentence(wish, places[0], f"its fixed slot {wish.fixed_slot}"),
        )
    only_order = [pl for pl in places if pl.order and not pl.busy and not pl.location_full]
    if only_order:
        return ("precedence", _order_sentence(wish))
    only_location = [pl for pl in places if pl.location_full and not pl.busy]
    if only_location:
        slots = ", ".join(
            sorted({pl.slot for pl in only_location}, key=index.slot_position.__getitem__)
        )
        return (
            "location_capacity",
            f"{_who(index, wish)} are both free in {slots}, but every suitable "
            "table or room is taken then",
        )
    weight = wish_weight(wish)
    if all(sum(_meeting_weight(index, m) for m in pl.busy) >= weight for pl in places):
        return (
            "lost_to_higher_priority",
            f"whenever {_who(index, wish)} could meet, one of them already has a meeting "
            "of the same or higher priority",
        )
    return (
        "participants_busy",
        f"whenever {_who(index, wish)} could meet, one of them already has another meeting",
    )


def _meeting_weight(index: EventIndex, meeting: Meeting) -> int:
    return sum(wish_weight(index.wishes[w]) for w in meeting.wishes)


def _free_but_refused(
    index: EventIndex, table: Timetable, wish: Wish, free: list[_Placement]
) -> tuple[str, str]:
    """A free place exists; only the event cap, the break limit or the goals can refuse it."""
    if table.event_full():
        total = index.problem.max_meetings_total
        return ("event_cap", f"the event already holds its maximum of {total} meetings")
    if not any(table.breaks_allow(wish.sender, pl.partner, pl.slot) for pl in free):
        return (
            "breaks_limit",
            f"every free time for {_who(index, wish)} would give one of them more breaks "
            "between meetings than the event's fairness limit allows",
        )
    ahead = _goals_ranked_above_scheduled(index.problem)
    if ahead:
        return (
            "fairness" if "fairness" in ahead else "objective_order",
            "a time was free, but adding this meeting would worsen a goal the event ranks "
            f"higher ({', '.join(ahead)})",
        )
    slots = ", ".join(pl.slot for pl in free[:3])
    return (
        "not_found",
        f"{_who(index, wish)} were both free (e.g. {slots}); the scheduler stopped before "
        "placing this meeting",
    )


def _goals_ranked_above_scheduled(problem: Problem) -> list[str]:
    goals = [g for g in problem.objective if g != "required"]
    return goals[: goals.index("scheduled")] if "scheduled" in goals else goals


def _meetings(n: int | None) -> str:
    return "1 meeting" if n == 1 else f"{n} meetings"


def _at_cap(index: EventIndex, person: str) -> tuple[str, str]:
    return (
        "participant_at_cap",
        f"{person} already has {_meetings(index.cap(person))}, the most allowed, so this one "
        "could only be added by dropping one of them",
    )


def _blocked_sentence(wish: Wish, place: _Placement, what: str) -> str:
    if place.busy:
        people = sorted(
            {p for m in place.busy for p in m.participants} & {wish.sender, place.partner}
        )
        has = "already has a meeting" if len(people) == 1 else "already have meetings"
        return f"{what} is taken: {' and '.join(people)} {has} then"
    if place.location_full:
        return f"{what} is taken: every suitable table or room is in use then"
    return f"{what} conflicts with the order of meetings this wish must follow"


def _order_sentence(wish: Wish) -> str:
    if wish.after:
        return (
            f"it must come after the meeting for wish {', '.join(wish.after)}, "
            "and no time that fits that order is free"
        )
    return "other meetings must come after it, and no time that fits that order is free"


# --- Conflicts among required wishes --------------------------------------------------------


def find_conflicts(problem: Problem, time_limit_seconds: float = 10.0) -> list[Conflict]:
    """A small set of required wishes and rules that cannot all hold; [] if none is found."""
    index = EventIndex(problem)
    required = [w for w in problem.wishes if w.required]
    if not required:
        return []
    obvious = _obvious_conflicts(index, required)
    if obvious:
        return obvious
    return _RequiredModel(index, required).minimal_conflicts(time_limit_seconds)


def _obvious_conflicts(index: EventIndex, required: list[Wish]) -> list[Conflict]:
    """Causes visible without a solver: a wish with no time or place, a participant overbooked."""
    out = []
    for wish in required:
        reason = _static_reason(index, wish)
        if reason is not None:
            out.append(Conflict((wish.id,), reason[0], f"required wish {wish.id}: {reason[1]}"))
    if out:
        return out
    for person, wishes in sorted(_required_meetings_of(required).items()):
        meetings = len(wishes)
        ids = tuple(sorted({w for group in wishes for w in group}))
        cap = index.cap(person)
        free = sum(s.id not in index.participants[person].unavailable for s in index.problem.slots)
        if cap is not None and meetings > cap:
            out.append(
                Conflict(
                    ids,
                    "participant_cap",
                    f"{person} must hold {meetings} required meetings ({', '.join(ids)}) "
                    f"but may hold at most {cap}",
                )
            )
        elif meetings > free:
            out.append(
                Conflict(
                    ids,
                    "not_enough_slots",
                    f"{person} must hold {meetings} required meetings ({', '.join(ids)}) "
                    f"but is available in only {free} slots",
                )
            )
    return out


def _required_meetings_of(required: list[Wish]) -> dict[str, list[tuple[str, ...]]]:
    """The meetings each participant must hold for personal required wishes, as wish groups.

    Wishes that are not separate between one pair share a meeting; wishes to an organisation
    are left out (their meeting may merge with another), so the counts are lower bounds.
    """
    groups: dict[tuple[frozenset[str], str], list[str]] = defaultdict(list)
    for w in required:
        if w.recipient is None:
            continue
        key = w.id if w.separate else ""
        groups[(frozenset((w.sender, w.recipient)), key)].append(w.id)
    per_person: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for (pair, _), ids in groups.items():
        for person in pair:
            per_person[person].append(tuple(ids))
    return per_person


@dataclass(frozen=True, slots=True)
class _Rule:
    """One rule instance that the feasibility model can switch off."""

    rule: str
    wishes: tuple[str, ...]
    detail: str
    #: For rules about a participant: its id, to relate the core's wishes to it.
    person: str | None = None


class _RequiredModel:
    """CP-SAT feasibility of the required wishes, each rule instance behind an assumption."""

    def __init__(self, index: EventIndex, required: list[Wish]) -> None:
        self.index = index
        self.required = required
        self.model = cp_model.CpModel()
        #: Assumption literal index -> the rule instance it switches on, and the literal.
        self.rules: dict[int, _Rule] = {}
        self.literals: dict[int, cp_model.IntVar] = {}
        #: (wish, partner, slot) -> literal "the wish is met with partner in slot".
        self.x: dict[tuple[str, str, str], cp_model.IntVar] = {}
        self.held: dict[str, cp_model.IntVar] = {}
        self._build()

    def _assumption(self, rule: _Rule) -> cp_model.IntVar:
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
        lit = self._assumption(_Rule("required", (w.id,), f"wish {w.id} is required"))
        self.model.add_implication(lit, held)

    def _timing(self, w: Wish) -> None:
        if w.fixed_slot is None and w.session is None:
            return
        allowed = set(self.index.allowed_slots(w))
        rule = "fixed_slot" if w.fixed_slot is not None else "session"
        where = f"slot {w.fixed_slot}" if w.fixed_slot is not None else f"session {w.session}"
        lit = self._assumption(_Rule(rule, (w.id,), f"wish {w.id} must be met in {where}"))
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
                    _Rule(
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
                    _Rule("participant_cap", involved[p], f"{p} may hold at most {cap} meetings", p)
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
            _Rule("location_capacity", (), "there are not enough tables and rooms at once")
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
                _Rule("event_cap", (), f"the event may hold at most {total} meetings")
            )
            model.add(sum(held.values()) <= total).only_enforce_if(lit)

    def _order(self, w: Wish) -> None:
        position = self.index.slot_position
        for earlier in w.after:
            if earlier not in self.held:
                continue  # an optional wish need not be held, so it cannot force a conflict
            lit = self._assumption(
                _Rule("precedence", (earlier, w.id), f"wish {w.id} must come after wish {earlier}")
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
                return kept + [candidate, *pending]
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
        """Breaks per participant (runs of meetings per day minus one on days it meets) and
        the limit: over participants with a meeting, most breaks minus fewest is at most d."""
        model, n = self.model, len(self.index.problem.slots)
        most = model.new_int_var(0, n, "most_breaks")
        fewest = model.new_int_var(0, n, "fewest_breaks")
        for person, by_slot in self.busy.items():
            runs: list[cp_model.IntVar] = []
            days_met: list[cp_model.IntVar] = []
            for day in self.index.days.values():
                busy = [self._busy_literal(by_slot.get(s, [])) for s in day]
                met = model.new_bool_var(f"meets_{person}")
                model.add_max_equality(met, busy)
                days_met.append(met)
                for t, now in enumerate(busy):
                    start = model.new_bool_var(f"run_{person}")
                    before = busy[t - 1] if t else 0
                    model.add(start >= now - before)
                    model.add(start <= now)
                    if t:
                        model.add(start <= 1 - busy[t - 1])
                    runs.append(start)
            breaks = sum(runs) - sum(days_met)
            has_meeting = model.new_bool_var(f"has_{person}")
            model.add_max_equality(has_meeting, days_met)
            model.add(most >= breaks)
            model.add(fewest <= breaks).only_enforce_if(has_meeting)
        lit = self._assumption(
            _Rule(
                "max_break_difference",
                (),
                f"no participant may have more than {d} breaks above the one with fewest",
            )
        )
        model.add(most - fewest <= d).only_enforce_if(lit)

    def _busy_literal(self, meetings: list[cp_model.IntVar]) -> cp_model.IntVar:
        busy = self.model.new_bool_var("busy")
        self.model.add(sum(meetings) == busy)
        return busy

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
