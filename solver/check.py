"""An independent checker: verifies any schedule against its problem, rule by rule.

Plain Python, no CP-SAT, so that it shares no code or reasoning with the optimisation model it
checks. Tests and benchmarks run every schedule through `check`; a schedule is valid when the
report has no violations.

Definitions the solver must match (the objective values a `Solution` reports are recomputed
here and must be equal):

- A wish is *met* when its id is in some meeting's `wishes`.
- `required`: the number of required wishes that are not met.
- `scheduled`: the number of met wishes (a mutual meeting meets two wishes and counts 2).
- `scheduled_weight`: the sum of `wish_weights(problem.wishes)` over met wishes (without
  proposals `PRIORITY_WEIGHT[wish.priority]`), so a mutual meeting counts the weight of both
  wishes.
- `min_share`: the smallest share of a participant's wishes that is met, over the participants
  with at least one wish; a participant's wishes are the wishes it sent plus the wishes
  addressed to it personally (`recipient`). A wish to an organisation counts for its sender
  only. `1.0` when no participant has a wish.
- `breaks`: the total number of breaks. A break of a participant is a maximal run of one or
  more slots without a meeting of that participant between two of its meetings on the same
  day; slots are consecutive when they are neighbours in `Problem.slots` order on that day
  (unavailable slots in such a run are part of the break).
- `max_break_difference` d: over the participants that hold at least one meeting, the most
  breaks minus the fewest breaks is at most d.
- `moved`: the number of published meetings (`Problem.published`) that are not kept; one is
  kept when a meeting of the solution has the same slot, the same location, the same two
  participants and shares at least one wish with it.
- `after`: when a wish and a wish named in its `after` are both met, the latter's meeting is in
  a strictly earlier slot (earlier in `Problem.slots` order). A wish whose `after` wish is not
  met is not constrained by it.
- Meeting kind: two `cluster` organisations make C2C, a cluster and any other kind C2B, any two
  others B2B.
- Locations: a meeting with an online participant is held in an `online` location; a meeting
  of two onsite participants in a location that is not `online`, and at the host location of
  each of its participants that has one.
- Pairs: two participants hold at most one meeting for their wishes that are not `separate`
  (so the wishes in both directions share one meeting), plus one meeting of its own for each
  met `separate` wish; a meeting that meets a separate wish meets no other wish.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from solver.problem import (
    Location,
    Meeting,
    MeetingKind,
    Participant,
    Problem,
    Slot,
    Solution,
    Wish,
    breaks_within_days,
    same_delegation,
    slots_by_day,
    wish_weights,
)

#: Objective keys every schedule with meetings (status optimal or feasible) reports.
OBJECTIVE_KEYS: tuple[str, ...] = (
    "required",
    "scheduled",
    "scheduled_weight",
    "min_share",
    "breaks",
    "moved",
)
_TOLERANCE = 1e-6


@dataclass(slots=True)
class CheckReport:
    #: One human-readable sentence per broken rule, naming the meeting, wish, participant, slot.
    violations: list[str] = field(default_factory=list)
    #: The objective recomputed from the meetings (see the module docstring).
    objective: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


class EventIndex:
    """Lookups over a problem that every rule needs (ids to objects, slot order, days)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.slots: dict[str, Slot] = {s.id: s for s in problem.slots}
        self.slot_position: dict[str, int] = {s.id: i for i, s in enumerate(problem.slots)}
        self.locations: dict[str, Location] = {loc.id: loc for loc in problem.locations}
        self.participants: dict[str, Participant] = {p.id: p for p in problem.participants}
        self.wishes: dict[str, Wish] = {w.id: w for w in problem.wishes}
        self.members: dict[str, list[str]] = defaultdict(list)
        for p in problem.participants:
            if p.represents_organisation:
                self.members[p.organisation].append(p.id)
        #: Slot ids day by day, each day's in chronological order.
        self.days: list[list[str]] = [
            [problem.slots[t].id for t in day] for day in slots_by_day(problem)
        ]

    def cap(self, participant: str) -> int | None:
        """The participant's own cap, else the event's default cap (None = no cap)."""
        own = self.participants[participant].max_meetings
        return own if own is not None else self.problem.max_meetings_per_participant

    def candidates(self, wish: Wish) -> list[str]:
        """Participants who may take the meeting for `wish` on the recipient's side."""
        return [p for p in self.recipients(wish) if not self.same_delegation(wish.sender, p)]

    def recipients(self, wish: Wish) -> list[str]:
        """Everyone on the recipient's side of `wish`, whatever the delegation rule."""
        if wish.recipient is not None:
            return [wish.recipient] if wish.recipient in self.participants else []
        members = self.members.get(wish.recipient_organisation or "", [])
        return [m for m in members if m != wish.sender]

    def same_delegation(self, a: str, b: str) -> bool:
        """Whether the rule `cross_delegation_only` keeps `a` and `b` from meeting."""
        if a not in self.participants or b not in self.participants:
            return False
        return same_delegation(self.problem, self.participants[a], self.participants[b])

    def allowed_slots(self, wish: Wish) -> list[str]:
        """Slots the wish's own session and fixed-slot rules allow, in chronological order."""
        return [
            s.id
            for s in self.problem.slots
            if (wish.session is None or s.session == wish.session)
            and (wish.fixed_slot is None or s.id == wish.fixed_slot)
        ]

    def is_online_pair(self, a: str, b: str) -> bool:
        return self.participants[a].online or self.participants[b].online

    def any_suitable_location(self, a: str, b: str) -> bool:
        """Whether some location of the event may hold a meeting of a and b: the same answer as
        `suitable_location` tried on every location, without the loop (the reasons ask it for
        every wish and partner)."""
        if self.is_online_pair(a, b):
            return self._online
        hosts = {self.participants[p].host_location for p in (a, b)} - {None}
        if not hosts:
            return bool(self._onsite)
        return len(hosts) == 1 and hosts <= self._onsite

    @cached_property
    def _online(self) -> bool:
        return any(loc.kind == "online" for loc in self.problem.locations)

    @cached_property
    def _onsite(self) -> set[str]:
        return {loc.id for loc in self.problem.locations if loc.kind != "online"}

    def suitable_location(self, location: Location, a: str, b: str) -> bool:
        """Whether a meeting of a and b may be held at `location` (online and host rules)."""
        if self.is_online_pair(a, b):
            return location.kind == "online"
        if location.kind == "online":
            return False
        hosts = {self.participants[p].host_location for p in (a, b)} - {None}
        return all(h == location.id for h in hosts)


def meeting_kind(first: Participant, second: Participant) -> MeetingKind:
    clusters = (first.organisation_kind == "cluster") + (second.organisation_kind == "cluster")
    return ("B2B", "C2B", "C2C")[clusters]


def met_wishes(meetings: Iterable[Meeting]) -> set[str]:
    return {w for m in meetings for w in m.wishes}


def breaks_per_participant(
    problem: Problem, meetings: Iterable[Meeting], index: EventIndex | None = None
) -> dict[str, int]:
    """Number of breaks of every participant holding at least one meeting."""
    index = index or EventIndex(problem)
    busy: dict[str, set[str]] = defaultdict(set)
    for m in meetings:
        for p in m.participants:
            busy[p].add(m.slot)
    return {p: count_breaks(index, slots) for p, slots in busy.items()}


def count_breaks(index: EventIndex, busy_slots: set[str]) -> int:
    """Breaks of one participant busy in `busy_slots`."""
    return breaks_within_days(index.days, busy_slots)


def min_share(problem: Problem, met: set[str]) -> float:
    wishes_of: dict[str, list[str]] = defaultdict(list)
    for w in problem.wishes:
        wishes_of[w.sender].append(w.id)
        if w.recipient is not None:
            wishes_of[w.recipient].append(w.id)
    shares = [sum(w in met for w in ws) / len(ws) for ws in wishes_of.values()]
    return min(shares, default=1.0)


def count_moved(problem: Problem, meetings: Sequence[Meeting]) -> int:
    places: dict[tuple[str, str, frozenset[str]], list[Meeting]] = defaultdict(list)
    for m in meetings:
        places[(m.slot, m.location, frozenset(m.participants))].append(m)
    moved = 0
    for old in problem.published:
        same_place = places.get((old.slot, old.location, frozenset(old.participants)), [])
        if not any(set(old.wishes) & set(m.wishes) for m in same_place):
            moved += 1
    return moved


def evaluate(
    problem: Problem, meetings: Sequence[Meeting], index: EventIndex | None = None
) -> dict[str, float]:
    """The objective values of `meetings` (definitions in the module docstring)."""
    met = met_wishes(meetings)
    held = [w for w in problem.wishes if w.id in met]
    weight = wish_weights(problem.wishes)
    return {
        "required": float(sum(1 for w in problem.wishes if w.required and w.id not in met)),
        "scheduled": float(len(held)),
        "scheduled_weight": float(sum(weight[w.id] for w in held)),
        "min_share": min_share(problem, met),
        "breaks": float(sum(breaks_per_participant(problem, meetings, index).values())),
        "moved": float(count_moved(problem, meetings)),
    }


def check(problem: Problem, solution: Solution) -> CheckReport:
    """Verify every rule of `problem` on `solution` and recompute its objective."""
    index = EventIndex(problem)
    meetings = list(solution.meetings)
    violations = _check_references(index, meetings)
    # Rules below assume every id a meeting names exists; report those first and stop there.
    if not violations:
        for rule in (
            _check_wish_partners,
            _check_delegations,
            _check_kind,
            _check_one_meeting_per_slot,
            _check_unavailable,
            _check_caps,
            _check_location_capacity,
            _check_location_suitability,
            _check_session_and_fixed_slot,
            _check_after,
            _check_pairs,
            _check_break_difference,
        ):
            violations += rule(index, meetings)
    violations += _check_wish_accounting(index, solution)
    # `evaluate` only reads ids it knows, so it is safe even when references are broken.
    report = CheckReport(violations=violations, objective=evaluate(problem, meetings, index))
    report.violations += _check_status(index, solution, report.objective)
    return report


def _label(m: Meeting) -> str:
    return f"meeting {'+'.join(m.wishes) or '(no wish)'} at {m.slot}/{m.location}"


def _check_references(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    out: list[str] = []
    for m in meetings:
        if m.slot not in index.slots:
            out.append(f"{_label(m)}: unknown slot {m.slot!r}")
        if m.location not in index.locations:
            out.append(f"{_label(m)}: unknown location {m.location!r}")
        for p in m.participants:
            if p not in index.participants:
                out.append(f"{_label(m)}: unknown participant {p!r}")
        if not m.wishes:
            out.append(f"{_label(m)}: meets no wish")
        for w in m.wishes:
            if w not in index.wishes:
                out.append(f"{_label(m)}: unknown wish {w!r} (not an accepted wish)")
    return out


def _check_wish_partners(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    out: list[str] = []
    for m in meetings:
        a, b = m.participants
        if a == b:
            out.append(f"{_label(m)}: participant {a} meets itself")
            continue
        first = index.wishes[m.wishes[0]]
        if a != first.sender:
            out.append(
                f"{_label(m)}: participants must start with {first.sender}, "
                f"the sender of wish {first.id}, not {a}"
            )
        for wid in m.wishes:
            wish = index.wishes[wid]
            if not _meeting_meets_wish(index, wish, {a, b}):
                target = wish.recipient or f"a member of organisation {wish.recipient_organisation}"
                out.append(
                    f"{_label(m)}: wish {wid} is from {wish.sender} to {target}, "
                    f"but the meeting is between {a} and {b}"
                )
    return out


def _check_delegations(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    return [
        f"{_label(m)}: {m.participants[0]} and {m.participants[1]} attend with the same "
        f"delegation ({index.participants[m.participants[0]].delegation}), and the rule "
        "cross_delegation_only allows meetings between delegations only"
        for m in meetings
        if index.same_delegation(*m.participants)
    ]


def _meeting_meets_wish(index: EventIndex, wish: Wish, pair: set[str]) -> bool:
    if wish.sender not in pair:
        return False
    (other,) = pair - {wish.sender}
    return other in index.recipients(wish)


def _check_kind(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    out: list[str] = []
    for m in meetings:
        a, b = (index.participants[p] for p in m.participants)
        expected = meeting_kind(a, b)
        if m.kind != expected:
            out.append(f"{_label(m)}: kind is {m.kind}, but {a.id} and {b.id} make {expected}")
    return out


def _check_one_meeting_per_slot(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    held: dict[tuple[str, str], list[Meeting]] = defaultdict(list)
    for m in meetings:
        for p in set(m.participants):
            held[(p, m.slot)].append(m)
    return [
        f"participant {p} has {len(ms)} meetings in slot {slot}: "
        + ", ".join(_label(m) for m in ms)
        for (p, slot), ms in held.items()
        if len(ms) > 1
    ]


def _check_unavailable(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    return [
        f"{_label(m)}: participant {p} is unavailable in slot {m.slot}"
        for m in meetings
        for p in m.participants
        if m.slot in index.participants[p].unavailable
    ]


def _check_caps(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    out: list[str] = []
    counts = Counter(p for m in meetings for p in m.participants)
    for p, n in sorted(counts.items()):
        cap = index.cap(p)
        if cap is not None and n > cap:
            out.append(f"participant {p} holds {n} meetings, above its cap of {cap}")
    total = index.problem.max_meetings_total
    if total is not None and len(meetings) > total:
        out.append(f"the event holds {len(meetings)} meetings, above its cap of {total}")
    return out


def _check_location_capacity(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    used = Counter((m.slot, m.location) for m in meetings)
    return [
        f"location {loc} holds {n} meetings in slot {slot}, "
        f"above its capacity of {index.locations[loc].capacity}"
        for (slot, loc), n in sorted(used.items())
        if n > index.locations[loc].capacity
    ]


def _check_location_suitability(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    out: list[str] = []
    for m in meetings:
        a, b = m.participants
        location = index.locations[m.location]
        if index.is_online_pair(a, b):
            if location.kind != "online":
                online = [p for p in m.participants if index.participants[p].online]
                out.append(
                    f"{_label(m)}: participant {online[0]} attends online, "
                    f"but location {location.id} is not an online location"
                )
            continue
        if location.kind == "online":
            out.append(f"{_label(m)}: {a} and {b} are both onsite, but {location.id} is online")
        for p in m.participants:
            host = index.participants[p].host_location
            if host is not None and host != location.id:
                out.append(
                    f"{_label(m)}: participant {p} hosts at location {host}, "
                    f"so its meetings are held there, not at {location.id}"
                )
    return out


def _check_session_and_fixed_slot(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    out: list[str] = []
    for m in meetings:
        slot = index.slots[m.slot]
        for wid in m.wishes:
            wish = index.wishes[wid]
            if wish.session is not None and slot.session != wish.session:
                out.append(
                    f"{_label(m)}: wish {wid} must be met in session {wish.session}, "
                    f"but slot {slot.id} is in session {slot.session}"
                )
            if wish.fixed_slot is not None and slot.id != wish.fixed_slot:
                out.append(
                    f"{_label(m)}: wish {wid} is fixed to slot {wish.fixed_slot}, "
                    f"but is met in slot {slot.id}"
                )
    return out


def _check_after(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    slot_of = {w: m.slot for m in meetings for w in m.wishes}
    out: list[str] = []
    for wid, slot in slot_of.items():
        for earlier in index.wishes[wid].after:
            if earlier not in slot_of:
                continue
            if index.slot_position[slot_of[earlier]] >= index.slot_position[slot]:
                out.append(
                    f"wish {wid} (slot {slot}) must come after wish {earlier}, "
                    f"which is met in slot {slot_of[earlier]}, not strictly earlier"
                )
    return out


def _check_pairs(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    out: list[str] = []
    shared: dict[frozenset[str], list[Meeting]] = defaultdict(list)
    for m in meetings:
        separate = [w for w in m.wishes if index.wishes[w].separate]
        if separate and len(m.wishes) > 1:
            out.append(
                f"{_label(m)}: wish {separate[0]} asks for a separate meeting, "
                "so it cannot share one with another wish"
            )
        if not separate:
            shared[frozenset(m.participants)].append(m)
    for pair, ms in shared.items():
        if len(ms) > 1:
            a, b = sorted(pair)
            out.append(
                f"participants {a} and {b} meet {len(ms)} times for wishes that are not "
                "separate (" + ", ".join(_label(m) for m in ms) + "); they meet at most once"
            )
    return out


def _check_break_difference(index: EventIndex, meetings: list[Meeting]) -> list[str]:
    d = index.problem.max_break_difference
    breaks = breaks_per_participant(index.problem, meetings)
    if d is None or not breaks:
        return []
    most = max(breaks, key=lambda p: (breaks[p], p))
    fewest = min(breaks, key=lambda p: (breaks[p], p))
    if breaks[most] - breaks[fewest] <= d:
        return []
    return [
        f"participant {most} has {breaks[most]} breaks and {fewest} has {breaks[fewest]}: "
        f"more than the allowed difference of {d}"
    ]


def _check_wish_accounting(index: EventIndex, solution: Solution) -> list[str]:
    out: list[str] = []
    in_meetings = Counter(w for m in solution.meetings for w in m.wishes)
    in_unscheduled = Counter(u.wish for u in solution.unscheduled)
    for wid, n in sorted(in_meetings.items()):
        if n > 1:
            out.append(f"wish {wid} is met by {n} meetings; a wish is met at most once")
    for wid, n in sorted(in_unscheduled.items()):
        if wid not in index.wishes:
            out.append(f"unscheduled lists unknown wish {wid!r}")
        elif n > 1:
            out.append(f"wish {wid} is listed {n} times as unscheduled")
        if wid in in_meetings:
            out.append(f"wish {wid} is both met and listed as unscheduled")
    if solution.status != "unknown":
        for w in index.problem.wishes:
            if w.id not in in_meetings and w.id not in in_unscheduled:
                out.append(f"wish {w.id} is neither met nor listed as unscheduled")
    return out


def _check_status(index: EventIndex, solution: Solution, objective: dict[str, float]) -> list[str]:
    out: list[str] = []
    if solution.status == "unknown" and solution.meetings:
        held = len(solution.meetings)
        out.append(f"status is unknown (no schedule found) but {held} meetings are held")
    if solution.status in ("optimal", "feasible"):
        met = met_wishes(solution.meetings)
        for w in index.problem.wishes:
            if w.required and w.id not in met:
                out.append(f"required wish {w.id} is not met, yet status is {solution.status}")
        for key in OBJECTIVE_KEYS:
            if key not in solution.objective:
                out.append(f"objective {key!r} is missing from the solution")
            elif abs(solution.objective[key] - objective[key]) > _TOLERANCE:
                out.append(
                    f"objective {key!r} is reported as {solution.objective[key]}, "
                    f"but the meetings give {objective[key]}"
                )
    return out
